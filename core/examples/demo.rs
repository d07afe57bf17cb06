//! A short tour of the core through the same API the apps call: create a vault, add a client
//! and a consent, write and sign a note, capture a GPS-tagged photo, lock and unlock, and show
//! that the vault folder holds no plaintext. Run with `cargo xtask demo [FOLDER]`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A demo prints.

use std::sync::Arc;

use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::clock::SystemClock;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::{Identity, SoftwareKeyStore, Vault};
use ward_proto::{DeviceId, TenantId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("ward-demo-{}", std::process::id())),
    };
    let keystore = SoftwareKeyStore::new(base.join("keystore").display().to_string())?;
    let ident = Identity {
        tenant: TenantId::random(),
        device: DeviceId::random(),
        actor: "dr.demo".into(),
    };
    let vault = Vault::create(
        base.join("vault"),
        ident,
        keystore.clone(),
        Arc::new(SystemClock),
    )?;
    println!("vault created in {}", base.join("vault").display());

    let client = vault.create_client(ClientInput {
        display_name: "Jane Example".into(),
        date_of_birth: Some("1984-03-09".into()),
        external_ref: Some("CH-0042".into()),
    })?;
    let consent = vault.record_consent(
        &client.client_id,
        vec![ConsentScope::Clinical],
        Some("signed on tablet".into()),
    )?;
    let note = vault.create_note(
        &client.client_id,
        NoteBody::Soap {
            subjective: "Redness on left cheek for 3 weeks".into(),
            objective: "Erythema 2x3 cm".into(),
            assessment: "Rosacea".into(),
            plan: "Topical metronidazole, review in 4 weeks".into(),
        },
    )?;
    let signed = vault.sign_note(&note.note_id, &note.version_id)?;
    vault.amend_note(&signed.note_id, "Patient reports allergy to sulfa drugs")?;
    println!("note {} signed, with one addendum", signed.note_id);

    let jpeg = fixture::jpeg_fixture(&FixtureSpec {
        width: 1600,
        height: 1200,
        ..FixtureSpec::default()
    });
    let photo = vault.capture_photo(
        &client.client_id,
        &jpeg,
        PhotoInput {
            caption: "Left cheek, before treatment".into(),
            body_area: Some("face/left-cheek".into()),
            consent_id: Some(consent.consent_id.clone()),
            series: Some("rosacea-2026".into()),
            series_label: Some("before".into()),
        },
        None,
    )?;
    println!(
        "photo captured: {} bytes stored, removed metadata: {:?}",
        photo.view.byte_len, photo.view.removed_metadata
    );
    vault.make_thumbnail(&photo.view.photo_id, Some(&jpeg))?;

    vault.lock();
    println!(
        "locked: listing clients now fails with: {}",
        vault.list_clients().unwrap_err()
    );
    vault.unlock()?;
    let hits = vault.search("rosacea", 10)?;
    println!(
        "unlocked; search 'rosacea' finds {} note(s) for {}",
        hits.len(),
        hits[0].client_name
    );
    let back = vault.read_photo(&photo.view.photo_id)?;
    println!(
        "photo read back: {} bytes, starts with JPEG SOI: {}",
        back.len(),
        back.starts_with(&[0xFF, 0xD8])
    );

    let mut leaks = 0;
    for entry in walk(&base.join("vault")) {
        let bytes = std::fs::read(&entry)?;
        for needle in [
            &b"Jane Example"[..],
            b"Rosacea",
            b"Erythema",
            b"GPS",
            &[0xFF, 0xD8, 0xFF],
        ] {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                leaks += 1;
                println!("PLAINTEXT FOUND in {}", entry.display());
            }
        }
    }
    println!("plaintext scan of the vault folder: {leaks} finding(s)");
    println!(
        "audit chain: {} events, intact: {}",
        vault.audit_events(0, 10_000)?.len(),
        vault.verify_audit_chain()?.is_ok()
    );
    vault.wipe()?;
    println!(
        "wiped: folder exists afterwards: {}",
        base.join("vault").exists()
    );
    Ok(())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
