//! Vault lifecycle, clinical record rules, corruption handling and the plaintext scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use std::sync::Arc;

use common::{TestVault, all_files, contains};
use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::{NoteBody, NoteStatus};
use ward_core::domain::photos::PhotoInput;
use ward_core::keystore::{KeyStore, KeyStoreError};
use ward_core::{CoreError, Policy, SoftwareKeyStore, Vault};

fn client(v: &Vault, name: &str) -> String {
    v.create_client(ClientInput {
        display_name: name.into(),
        date_of_birth: Some("1980-02-03".into()),
        external_ref: None,
    })
    .unwrap()
    .client_id
}

fn consent(v: &Vault, client: &str) -> String {
    v.record_consent(
        client,
        vec![ConsentScope::Clinical],
        Some("signed form".into()),
    )
    .unwrap()
    .consent_id
}

fn text(t: &str) -> NoteBody {
    NoteBody::Text { text: t.into() }
}

fn photo_input(consent: &str) -> PhotoInput {
    PhotoInput {
        caption: "left cheek, before".into(),
        consent_id: Some(consent.into()),
        ..Default::default()
    }
}

#[test]
fn lock_unlock_and_restart_keep_everything() {
    let mut t = TestVault::new();
    let c = client(&t.vault, "Ada Lovelace");
    let n = t.vault.create_note(&c, text("first visit")).unwrap();
    t.vault.lock();
    assert!(matches!(t.vault.list_clients(), Err(CoreError::Locked)));
    assert!(matches!(
        t.vault.get_note(&n.note_id),
        Err(CoreError::Locked)
    ));
    t.vault.unlock().unwrap();
    assert_eq!(
        t.vault.get_note(&n.note_id).unwrap().body,
        text("first visit")
    );
    t.reopen();
    assert!(t.vault.is_locked());
    t.vault.unlock().unwrap();
    assert_eq!(
        t.vault.list_clients().unwrap()[0].display_name,
        "Ada Lovelace"
    );
    assert_eq!(t.vault.list_notes(&c).unwrap().len(), 1);
}

#[test]
fn idle_timeout_locks() {
    let t = TestVault::new();
    t.vault
        .set_policy(Policy {
            idle_lock_seconds: 60,
            ..Policy::default()
        })
        .unwrap();
    client(&t.vault, "A");
    t.clock.advance_ms(59_000);
    assert!(t.vault.list_clients().is_ok(), "activity resets the timer");
    t.clock.advance_ms(59_000);
    assert!(!t.vault.is_locked());
    t.clock.advance_ms(2_000);
    assert!(matches!(t.vault.list_clients(), Err(CoreError::Locked)));
    assert!(t.vault.is_locked());
    t.vault.unlock().unwrap();
    assert_eq!(t.vault.list_clients().unwrap().len(), 1);
}

/// A key store that hands back a different key than the one it wrapped.
struct LyingKeyStore(Arc<SoftwareKeyStore>);
impl KeyStore for LyingKeyStore {
    fn wrap_key(&self, a: String, k: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        self.0.wrap_key(a, k)
    }
    fn unwrap_key(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        Ok(vec![7u8; 32])
    }
    fn destroy_key(&self, a: String) -> Result<(), KeyStoreError> {
        self.0.destroy_key(a)
    }
}

#[test]
fn wrong_or_lost_key_trips_the_canary() {
    let t = TestVault::new();
    client(&t.vault, "A");
    let liar = Arc::new(LyingKeyStore(t.keystore.clone()));
    let v = Vault::open(t.dir(), liar, t.clock.clone()).unwrap();
    assert!(matches!(v.unlock(), Err(CoreError::WrongKey)));
    // A key store that lost its key (e.g. biometrics re-enrolled) says so.
    let empty = SoftwareKeyStore::new(t.tmp.path().join("other").display().to_string()).unwrap();
    let v = Vault::open(t.dir(), empty, t.clock.clone()).unwrap();
    assert!(matches!(
        v.unlock(),
        Err(CoreError::KeyStore(KeyStoreError::KeyInvalidated))
    ));
}

#[test]
fn wipe_destroys_the_key_first_and_leaves_nothing() {
    let t = TestVault::new();
    let c = client(&t.vault, "Wipe Me");
    let k = consent(&t.vault, &c);
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    t.vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap();
    let alias_files = || {
        std::fs::read_dir(t.tmp.path().join("keystore"))
            .unwrap()
            .count()
    };
    assert_eq!(alias_files(), 1);
    t.vault.wipe().unwrap();
    assert_eq!(alias_files(), 0, "the wrapping key is destroyed");
    assert!(!t.dir().exists(), "the vault folder is gone");
    assert!(matches!(t.vault.list_clients(), Err(CoreError::Wiped)));
    assert!(matches!(t.vault.unlock(), Err(CoreError::Wiped)));
    assert!(Vault::open(t.dir(), t.keystore.clone(), t.clock.clone()).is_err());
}

#[test]
fn notes_are_versioned_signed_locked_and_amended() {
    let t = TestVault::new();
    let c = client(&t.vault, "B");
    let v1 = t.vault.create_note(&c, text("draft one")).unwrap();
    assert_eq!(v1.status, NoteStatus::Draft);
    t.clock.advance_ms(10);
    let v2 = t
        .vault
        .edit_note(&v1.note_id, &v1.version_id, text("draft two"))
        .unwrap();
    assert_ne!(v1.version_id, v2.version_id);
    // Editing an old version is refused, not silently overwriting.
    let stale = t
        .vault
        .edit_note(&v1.note_id, &v1.version_id, text("stale"));
    assert!(matches!(stale, Err(CoreError::NotAllowed(_))));
    t.clock.advance_ms(10);
    let signed = t.vault.sign_note(&v2.note_id, &v2.version_id).unwrap();
    assert_eq!(signed.status, NoteStatus::Signed);
    assert!(signed.signed_at_ms.is_some());
    let locked = t
        .vault
        .edit_note(&signed.note_id, &signed.version_id, text("changed"));
    assert!(matches!(locked, Err(CoreError::NotAllowed(_))));
    t.clock.advance_ms(10);
    let amended = t
        .vault
        .amend_note(&signed.note_id, "addendum: allergy noted")
        .unwrap();
    assert_eq!(amended.addenda.len(), 1);
    assert_eq!(amended.addenda[0].amends_version_id, signed.version_id);
    assert_eq!(
        amended.body,
        text("draft two"),
        "the signed text is untouched"
    );
    let history = t.vault.note_history(&v1.note_id).unwrap();
    let bodies: Vec<_> = history.iter().map(|h| h.body.clone()).collect();
    assert_eq!(
        bodies,
        vec![text("draft one"), text("draft two"), text("draft two")]
    );
    // A draft cannot take addenda; addenda are not listed as notes.
    let d = t.vault.create_note(&c, text("other")).unwrap();
    assert!(matches!(
        t.vault.amend_note(&d.note_id, "x"),
        Err(CoreError::NotAllowed(_))
    ));
    assert_eq!(t.vault.list_notes(&c).unwrap().len(), 2);
    // SOAP notes.
    let soap = NoteBody::Soap {
        subjective: "s".into(),
        objective: "o".into(),
        assessment: "a".into(),
        plan: "p".into(),
    };
    assert_eq!(t.vault.create_note(&c, soap.clone()).unwrap().body, soap);
}

#[test]
fn bad_input_is_a_typed_error() {
    let t = TestVault::new();
    let c = client(&t.vault, "C");
    assert!(matches!(
        t.vault.create_note("nope", text("x")),
        Err(CoreError::Invalid(_))
    ));
    let missing = ward_proto::ObjectId::random().to_string();
    assert!(matches!(
        t.vault.create_note(&missing, text("x")),
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.vault.create_note(&c, text("  ")),
        Err(CoreError::Invalid(_))
    ));
    let blank = ClientInput {
        display_name: " ".into(),
        date_of_birth: None,
        external_ref: None,
    };
    assert!(matches!(
        t.vault.create_client(blank),
        Err(CoreError::Invalid(_))
    ));
    let bad_dob = ClientInput {
        display_name: "D".into(),
        date_of_birth: Some("3/4/80".into()),
        external_ref: None,
    };
    assert!(matches!(
        t.vault.create_client(bad_dob),
        Err(CoreError::Invalid(_))
    ));
    let k = consent(&t.vault, &c);
    let r = t
        .vault
        .capture_photo(&c, b"GIF89a not a photo", photo_input(&k), None);
    assert!(matches!(r, Err(CoreError::Invalid(_))));
    let r = t
        .vault
        .capture_photo(&c, &[0xFF, 0xD8, 0xFF, 0xE1, 0, 200], photo_input(&k), None);
    assert!(matches!(r, Err(CoreError::Image(_))));
}

#[test]
fn photo_capture_requires_active_clinical_consent() {
    let t = TestVault::new();
    let c = client(&t.vault, "E");
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    let none = PhotoInput {
        caption: "x".into(),
        ..Default::default()
    };
    assert!(matches!(
        t.vault.capture_photo(&c, &img, none.clone(), None),
        Err(CoreError::NotAllowed(_))
    ));
    let marketing = t
        .vault
        .record_consent(&c, vec![ConsentScope::Marketing], None)
        .unwrap();
    let r = t
        .vault
        .capture_photo(&c, &img, photo_input(&marketing.consent_id), None);
    assert!(matches!(r, Err(CoreError::NotAllowed(_))));
    let k = consent(&t.vault, &c);
    t.vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap();
    let w = t.vault.withdraw_consent(&k).unwrap();
    assert!(w.withdrawn_at_ms.is_some());
    let r = t.vault.capture_photo(&c, &img, photo_input(&k), None);
    assert!(matches!(r, Err(CoreError::NotAllowed(_))));
    // Another client's consent does not count.
    let c2 = client(&t.vault, "F");
    let k2 = consent(&t.vault, &c2);
    assert!(matches!(
        t.vault.capture_photo(&c, &img, photo_input(&k2), None),
        Err(CoreError::NotAllowed(_))
    ));
    // With the policy off, no consent is needed.
    t.vault
        .set_policy(Policy {
            photo_consent_required: false,
            ..Policy::default()
        })
        .unwrap();
    t.vault.capture_photo(&c, &img, none, None).unwrap();
    assert_eq!(t.vault.list_consents(&c).unwrap().len(), 2);
}

#[test]
fn photos_lose_location_but_keep_their_pixels() {
    let t = TestVault::new();
    let c = client(&t.vault, "G");
    let k = consent(&t.vault, &c);
    let img = fixture::jpeg_fixture(&FixtureSpec {
        width: 300,
        height: 200,
        ..FixtureSpec::default()
    });
    let cap = t
        .vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap();
    assert!(cap.thumbnail_pending);
    assert_eq!(cap.view.orientation, Some(6));
    assert!(cap.view.removed_metadata.iter().any(|m| m == "GPS"));
    let back = t.vault.read_photo(&cap.view.photo_id).unwrap();
    assert_eq!(back.len() as u64, cap.view.byte_len);
    for marker in [
        fixture::MARKER_GPS_LAT,
        fixture::MARKER_MAKE,
        fixture::MARKER_SERIAL,
        fixture::MARKER_COMMENT,
    ] {
        assert!(
            !contains(&back, marker.as_bytes()),
            "{marker} survived capture"
        );
    }
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&back[..]))
        .unwrap();
    assert!(
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_none()
    );
    assert!(
        exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
            .is_some()
    );
    // Entropy-coded data is byte-identical: the original ends with the same scan bytes.
    let tail = 4096.min(back.len());
    assert_eq!(&back[back.len() - tail..], &img[img.len() - tail..]);
    // Thumbnail: made on first read if the background step never ran.
    let thumb = t.vault.read_thumbnail(&cap.view.photo_id).unwrap();
    assert_eq!(&thumb[..2], &[0xFF, 0xD8]);
    assert!(!contains(&thumb, b"Exif"));
    // Random access to a chunk.
    let n = t.vault.photo_chunk_count(&cap.view.photo_id).unwrap();
    let last = t.vault.read_photo_chunk(&cap.view.photo_id, n - 1).unwrap();
    assert!(back.ends_with(&last));
    // Export streams the same bytes.
    let mut out = Vec::new();
    t.vault
        .share_photo(&cap.view.photo_id, ConsentScope::Clinical, &mut out)
        .unwrap();
    assert_eq!(&out[..], &back[..]);
    // Series listing.
    assert_eq!(t.vault.list_photos(&c).unwrap().len(), 1);
}

#[test]
fn a_damaged_record_is_reported_and_the_rest_stay_readable() {
    let mut t = TestVault::new();
    let c = client(&t.vault, "I");
    let good = t.vault.create_note(&c, text("good note")).unwrap();
    let bad = t.vault.create_note(&c, text("bad note")).unwrap();
    let k = consent(&t.vault, &c);
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    let p_good = t
        .vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap()
        .view;
    let p_bad = t
        .vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap()
        .view;
    t.vault.lock();
    // Flip a byte in one note's envelope and in one photo file.
    let db = rusqlite::Connection::open(t.dir().join("vault.db")).unwrap();
    let bad_id: ward_proto::ObjectId = bad.note_id.parse().unwrap();
    let mut env: Vec<u8> = db
        .query_row(
            "SELECT envelope FROM objects WHERE object_id = ?1",
            [bad_id.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    let last = env.len() - 1;
    env[last] ^= 0x40;
    db.execute(
        "UPDATE objects SET envelope = ?1 WHERE object_id = ?2",
        rusqlite::params![env, bad_id.as_bytes()],
    )
    .unwrap();
    drop(db);
    let blob = std::fs::read_dir(t.dir().join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&p_bad.photo_id)
        })
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&blob, bytes).unwrap();

    t.reopen();
    t.vault.unlock().unwrap();
    match t.vault.get_note(&bad.note_id) {
        Err(CoreError::Corrupt { object, .. }) => assert!(object.contains(&bad.note_id)),
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    assert_eq!(
        t.vault.get_note(&good.note_id).unwrap().body,
        text("good note")
    );
    match t.vault.read_photo(&p_bad.photo_id) {
        Err(CoreError::Corrupt { object, .. }) => assert!(object.contains(&p_bad.photo_id)),
        other => panic!("expected a corrupt-photo error, got {other:?}"),
    }
    assert!(t.vault.read_photo(&p_good.photo_id).is_ok());
    assert_eq!(
        t.vault.list_notes(&c).unwrap().len(),
        1,
        "the damaged note is left out of lists"
    );
}

#[test]
fn search_finds_names_and_note_text() {
    let t = TestVault::new();
    let a = client(&t.vault, "Grace Hopper");
    let b = client(&t.vault, "Alan Turing");
    t.vault
        .create_note(&a, text("Rosacea flare on the LEFT cheek"))
        .unwrap();
    t.vault
        .create_note(&b, text("follow-up in two weeks"))
        .unwrap();
    let hits = t.vault.search("hopper", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].client_id, a);
    let hits = t.vault.search("left cheek", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].client_name, "Grace Hopper");
    assert!(hits[0].note_id.is_some());
    assert!(t.vault.search("nothing-like-this", 10).unwrap().is_empty());
}

#[test]
fn audit_chain_records_views_and_detects_tampering() {
    let t = TestVault::new();
    let c = client(&t.vault, "J");
    let n = t.vault.create_note(&c, text("x")).unwrap();
    t.vault.get_note(&n.note_id).unwrap();
    let s = t.vault.sign_note(&n.note_id, &n.version_id).unwrap();
    t.vault.amend_note(&s.note_id, "late entry").unwrap();
    t.vault.lock();
    // The log of ids is readable while locked (it holds no clinical content).
    let events = t.vault.audit_events(0, 100).unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for a in ["create", "view", "sign", "amend"] {
        assert!(actions.contains(&a), "missing {a} in {actions:?}");
    }
    let count = t.vault.verify_audit_chain().unwrap().unwrap();
    assert_eq!(count, events.len() as u64);
    let db = rusqlite::Connection::open(t.dir().join("vault.db")).unwrap();
    db.execute(
        "UPDATE audit SET action = 'create' WHERE action = 'view'",
        [],
    )
    .unwrap();
    assert!(t.vault.verify_audit_chain().unwrap().is_err());
}

#[test]
fn no_plaintext_anywhere_in_the_vault_folder() {
    let t = TestVault::new();
    let name = "MARKER-NAME-Zebedee";
    let c = t
        .vault
        .create_client(ClientInput {
            display_name: name.into(),
            date_of_birth: Some("1971-07-07".into()),
            external_ref: Some("MARKER-CHART-99".into()),
        })
        .unwrap()
        .client_id;
    t.vault
        .create_note(&c, text("MARKER-NOTE-psoriasis"))
        .unwrap();
    let k = t
        .vault
        .record_consent(
            &c,
            vec![ConsentScope::Clinical],
            Some("MARKER-CONSENT".into()),
        )
        .unwrap();
    let img = fixture::jpeg_fixture(&FixtureSpec {
        width: 256,
        height: 192,
        ..FixtureSpec::default()
    });
    let input = PhotoInput {
        caption: "MARKER-CAPTION".into(),
        body_area: Some("MARKER-AREA".into()),
        consent_id: Some(k.consent_id),
        ..Default::default()
    };
    let cap = t.vault.capture_photo(&c, &img, input, None).unwrap();
    t.vault.read_thumbnail(&cap.view.photo_id).unwrap();
    let files = all_files(&t.dir());
    assert!(
        files
            .iter()
            .any(|(p, _)| p.ends_with("vault.db-wal") || p.ends_with("vault.db"))
    );
    let markers: Vec<&[u8]> = vec![
        name.as_bytes(),
        b"Zebedee",
        b"1971-07-07",
        b"MARKER",
        b"psoriasis",
        fixture::MARKER_MAKE.as_bytes(),
        b"Exif",
        b"JFIF",
        &[0xFF, 0xD8, 0xFF],
    ];
    for (path, bytes) in &files {
        for m in &markers {
            assert!(
                !contains(bytes, m),
                "{} contains {:?}",
                path.display(),
                String::from_utf8_lossy(m)
            );
        }
    }
    // The vault key itself is nowhere in the folder either.
    let db = rusqlite::Connection::open(t.dir().join("vault.db")).unwrap();
    let (vault_id, wrapped): (Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT (SELECT value FROM meta WHERE key='vault_id'), (SELECT value FROM meta WHERE key='wrapped_vault_key')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let alias = format!(
        "ward-vault-{}",
        ward_proto::ObjectId::from_bytes(vault_id.try_into().unwrap())
    );
    let key = t.keystore.unwrap_key(alias, wrapped).unwrap();
    for (path, bytes) in &files {
        assert!(!contains(bytes, &key), "vault key in {}", path.display());
    }
}

#[test]
fn files_left_by_a_crash_between_rename_and_commit_are_swept_at_open() {
    let mut t = TestVault::new();
    let c = client(&t.vault, "K");
    let k = consent(&t.vault, &c);
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    let kept = t
        .vault
        .capture_photo(&c, &img, photo_input(&k), None)
        .unwrap()
        .view;
    let blobs = t.dir().join("blobs");
    let orphan = blobs.join(format!(
        "{}_{}.wenv",
        ward_proto::ObjectId::random(),
        ward_proto::VersionId::random()
    ));
    std::fs::write(&orphan, b"ciphertext nobody references").unwrap();
    std::fs::write(blobs.join("x.wenv.tmp"), b"half written").unwrap();
    t.reopen();
    assert!(!orphan.exists());
    assert!(!blobs.join("x.wenv.tmp").exists());
    t.vault.unlock().unwrap();
    assert!(
        t.vault.read_photo(&kept.photo_id).is_ok(),
        "referenced photos stay"
    );
}
