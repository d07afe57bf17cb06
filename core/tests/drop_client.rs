//! Dropping a client the user may no longer read (`Vault::drop_client`): every synced version
//! and photo file of that client goes, unsynced work stays, other clients are untouched, and no
//! file in the vault folder keeps the dropped ciphertext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use common::{TestVault, all_files, contains};
use ward_core::CoreError;
use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::vault::forget::DropOutcome;
use ward_proto::envelope::HEADER_LEN;
use ward_proto::{Kind, ObjectId, VersionId};

fn client(t: &TestVault, name: &str) -> ObjectId {
    t.vault
        .create_client(ClientInput {
            display_name: name.into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
        .parse()
        .unwrap()
}

fn note(t: &TestVault, client: ObjectId, text: &str) -> String {
    t.vault
        .create_note(&client.to_string(), NoteBody::Text { text: text.into() })
        .unwrap()
        .note_id
}

/// A distinctive slice from the middle of an envelope's body (its ciphertext, past the
/// header that names the ids).
fn slice(envelope: &[u8]) -> Vec<u8> {
    let mid = HEADER_LEN + (envelope.len() - HEADER_LEN) / 2;
    envelope[mid - 16..mid + 16].to_vec()
}

/// The files under the vault folder that hold `needle`.
fn on_disk(t: &TestVault, needle: &[u8]) -> Vec<String> {
    all_files(&t.dir())
        .iter()
        .filter(|(_, bytes)| contains(bytes, needle))
        .map(|(path, _)| path.display().to_string())
        .collect()
}

/// Marks everything in the outbox and every pending photo as acknowledged by the server;
/// returns the envelopes (with their client) that were acknowledged.
fn ack_everything(t: &TestVault) -> Vec<(Option<ObjectId>, Kind, Vec<u8>)> {
    t.vault
        .with_unlocked(|ctx| {
            let items = ctx.outbox(10_000, usize::MAX)?;
            let photos = ctx.pending_photos()?;
            let mut out: Vec<(Option<ObjectId>, Kind, Vec<u8>)> = items
                .iter()
                .map(|i| (i.client, i.object.kind, i.envelope.clone()))
                .collect();
            for p in &photos {
                let env = ctx.photo_envelope_range(&p.object, 0, p.len)?;
                out.push((Some(p.client), Kind::PhotoContent, env));
            }
            let mut acked: Vec<(ObjectId, VersionId)> = items
                .iter()
                .map(|i| (i.object.object, i.object.version))
                .collect();
            acked.extend(photos.iter().map(|p| (p.object.object, p.object.version)));
            ctx.mark_synced(&acked)?;
            Ok(out)
        })
        .unwrap()
}

#[test]
fn dropping_a_client_removes_its_synced_data_everywhere_and_keeps_unsynced_work() {
    let mut t = TestVault::new();
    let ada = client(&t, "Ada Lovelace");
    let bob = client(&t, "Bob Babbage");

    // Ada: a second client version, a note, a consent, a photo with its thumbnail.
    let v1 = t.vault.get_client(&ada.to_string()).unwrap();
    t.vault
        .update_client(
            &ada.to_string(),
            &v1.version_id,
            ClientInput {
                display_name: "Ada King".into(),
                date_of_birth: Some("1815-12-10".into()),
                external_ref: None,
            },
        )
        .unwrap();
    let ada_note = note(&t, ada, "analytical engine follow-up");
    let consent = t
        .vault
        .record_consent(&ada.to_string(), vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id;
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    let photo = t
        .vault
        .capture_photo(
            &ada.to_string(),
            &img,
            PhotoInput {
                caption: "left cheek".into(),
                consent_id: Some(consent.clone()),
                ..Default::default()
            },
            None,
        )
        .unwrap()
        .view
        .photo_id;
    assert!(t.vault.make_thumbnail(&photo, Some(&img)).unwrap());
    // Bob: one note.
    let bob_note = note(&t, bob, "difference engine review");

    let acked = ack_everything(&t);
    let ada_envelopes: Vec<(Kind, Vec<u8>)> = acked
        .iter()
        .filter(|(c, _, _)| *c == Some(ada))
        .map(|(_, k, e)| (*k, e.clone()))
        .collect();
    // Client ×2, note, consent, photo content, photo metadata, thumbnail.
    assert_eq!(ada_envelopes.len(), 7, "{ada_envelopes:?}");
    let bob_envelopes: Vec<Vec<u8>> = acked
        .iter()
        .filter(|(c, _, _)| *c == Some(bob))
        .map(|(_, _, e)| e.clone())
        .collect();
    assert_eq!(bob_envelopes.len(), 2);

    // Work on Ada not synced yet: one pending note, one the server refused.
    let pending = note(&t, ada, "written offline, not pushed");
    let refused = note(&t, ada, "refused by the server");
    t.vault
        .with_unlocked(|ctx| {
            let refused_v = ctx
                .outbox(100, usize::MAX)?
                .into_iter()
                .find(|i| i.object.object.to_string() == refused)
                .unwrap();
            ctx.mark_refused(&[(refused_v.object.object, refused_v.object.version)])
        })
        .unwrap();

    let held = t.vault.held_clients().unwrap();
    assert!(held.synced.contains(&ada) && held.synced.contains(&bob));
    assert!(held.from_start.contains(&ada) && held.from_start.contains(&bob));
    for (kind, env) in &ada_envelopes {
        assert!(
            !on_disk(&t, &slice(env)).is_empty(),
            "{kind:?} is not on disk before"
        );
    }
    let blob_dir = t.dir().join("blobs");
    assert_eq!(std::fs::read_dir(&blob_dir).unwrap().count(), 1);
    let events_before = t.vault.audit_events(0, u32::MAX).unwrap().len();

    let outcome = t.vault.drop_client(ada).unwrap();
    assert_eq!(
        outcome,
        DropOutcome {
            dropped_versions: 7,
            kept_unsynced: 2,
        }
    );

    // Gone from the app's views.
    let listed: Vec<String> = t
        .vault
        .list_clients()
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, vec![bob.to_string()]);
    assert!(matches!(
        t.vault.get_client(&ada.to_string()),
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.vault.get_note(&ada_note),
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        t.vault.read_photo(&photo),
        Err(CoreError::NotFound { .. })
    ));
    assert!(t.vault.search("ada", 10).unwrap().is_empty());
    assert!(t.vault.search("analytical", 10).unwrap().is_empty());
    // The photo file is deleted.
    assert_eq!(std::fs::read_dir(&blob_dir).unwrap().count(), 0);
    // No file in the vault folder holds any dropped envelope's ciphertext.
    for (kind, env) in &ada_envelopes {
        let found = on_disk(&t, &slice(env));
        assert!(found.is_empty(), "{kind:?} ciphertext left in {found:?}");
    }

    // The unsynced work is kept, and the pending note still goes out with the next push.
    assert_eq!(
        t.vault.get_note(&pending).unwrap().client_id,
        ada.to_string()
    );
    assert!(t.vault.get_note(&refused).is_ok());
    let unsynced = t.vault.unsynced().unwrap();
    assert_eq!((unsynced.notes, unsynced.refused), (1, 1));
    let outbox = t
        .vault
        .with_unlocked(|ctx| ctx.outbox(100, usize::MAX))
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].object.object.to_string(), pending);

    // Bob is intact and readable.
    assert_eq!(
        t.vault.get_client(&bob.to_string()).unwrap().display_name,
        "Bob Babbage"
    );
    assert!(matches!(
        t.vault.get_note(&bob_note).unwrap().body,
        NoteBody::Text { ref text } if text == "difference engine review"
    ));
    assert_eq!(t.vault.list_notes(&bob.to_string()).unwrap().len(), 1);
    for env in &bob_envelopes {
        assert!(
            !on_disk(&t, &slice(env)).is_empty(),
            "the scan finds what is still held"
        );
    }
    let held = t.vault.held_clients().unwrap();
    assert_eq!(held.synced, vec![bob]);
    assert_eq!(held.from_start, vec![bob]);

    // One audit event, ids only, and the chain still verifies.
    let events = t.vault.audit_events(0, u32::MAX).unwrap();
    let drops: Vec<_> = events
        .iter()
        .filter(|e| e.action == "client.drop")
        .collect();
    assert_eq!(drops.len(), 1);
    assert_eq!((drops[0].object, drops[0].client), (Some(ada), Some(ada)));
    assert!(events.len() > events_before);
    assert!(t.vault.verify_audit_chain().unwrap().is_ok());

    // Dropping again changes nothing and records nothing.
    let n = events.len();
    assert_eq!(
        t.vault.drop_client(ada).unwrap(),
        DropOutcome {
            dropped_versions: 0,
            kept_unsynced: 2,
        }
    );
    assert_eq!(t.vault.audit_events(0, u32::MAX).unwrap().len(), n);

    // After a restart the vault agrees.
    t.reopen();
    t.vault.unlock().unwrap();
    let listed: Vec<String> = t
        .vault
        .list_clients()
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, vec![bob.to_string()]);
    assert!(t.vault.get_note(&pending).is_ok());
    assert_eq!(t.vault.unreadable_count(), 0);
}

#[test]
fn a_photo_file_left_by_a_crash_after_the_drop_is_swept_at_the_next_start() {
    let mut t = TestVault::new();
    let ada = client(&t, "Ada Lovelace");
    let consent = t
        .vault
        .record_consent(&ada.to_string(), vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id;
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    t.vault
        .capture_photo(
            &ada.to_string(),
            &img,
            PhotoInput {
                caption: "before".into(),
                consent_id: Some(consent),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    ack_everything(&t);
    let blob_dir = t.dir().join("blobs");
    let file = std::fs::read_dir(&blob_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let kept = std::fs::read(&file).unwrap();
    t.vault.drop_client(ada).unwrap();
    assert!(!file.exists());
    // A crash between the commit and the unlink leaves the file: put it back, restart.
    std::fs::write(&file, &kept).unwrap();
    t.reopen();
    assert!(!file.exists(), "the orphan photo file survived a restart");
}

#[test]
fn dropping_a_client_the_vault_does_not_hold_changes_nothing() {
    let t = TestVault::new();
    let bob = client(&t, "Bob");
    ack_everything(&t);
    let events = t.vault.audit_events(0, u32::MAX).unwrap().len();
    assert_eq!(
        t.vault.drop_client(ObjectId::random()).unwrap(),
        DropOutcome::default()
    );
    assert_eq!(t.vault.audit_events(0, u32::MAX).unwrap().len(), events);
    assert_eq!(t.vault.list_clients().unwrap().len(), 1);
    assert!(t.vault.get_client(&bob.to_string()).is_ok());
}

#[test]
fn a_locked_vault_refuses_to_drop() {
    let t = TestVault::new();
    let ada = client(&t, "Ada");
    ack_everything(&t);
    t.vault.lock();
    assert!(matches!(t.vault.drop_client(ada), Err(CoreError::Locked)));
    t.vault.unlock().unwrap();
    assert!(t.vault.get_client(&ada.to_string()).is_ok());
}
