//! A verified wipe command cannot be dodged by a restart or by staying offline: once it is
//! persisted no record is shown, and the wipe finishes at a later start even with no signal
//! once the offline lease says so.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestVault;
use ward_core::WardError;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::ffi::WardVault;
use ward_core::sync::WardSync;
use ward_proto::wipe::{WipeCommand, WipeSigner};

const DAY: i64 = 24 * 3600 * 1000;

#[test]
fn a_pending_wipe_hides_every_record_across_restarts_and_finishes_offline() {
    let mut t = TestVault::new();
    let c = t
        .vault
        .create_client(ClientInput {
            display_name: "Jane Roe".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    t.vault
        .create_note(
            &c,
            NoteBody::Text {
                text: "unsynced".into(),
            },
        )
        .unwrap();
    t.vault
        .set_sync_meta_i64("last_contact_ms", t.vault.now_ms())
        .unwrap();
    let signer = WipeSigner::from_seed(&[7u8; 32]).unwrap();
    t.vault
        .set_sync_meta(
            "wipe_public_key",
            URL_SAFE_NO_PAD.encode(signer.public_key()).as_bytes(),
        )
        .unwrap();
    let ident = t.vault.identity();
    let signed = signer
        .sign(&WipeCommand {
            version: 1,
            tenant: ident.tenant,
            device: ident.device,
            command_id: "c1".into(),
            issued_at_ms: t.vault.now_ms(),
            rescue: true,
        })
        .unwrap();
    t.vault
        .set_wipe_pending(&serde_json::to_vec(&signed).unwrap())
        .unwrap();

    // The app restarts (offline) and unlocks: no record is shown, no record is written.
    t.reopen();
    t.vault.unlock().unwrap();
    let app = WardVault::from_vault(t.vault.clone());
    assert!(matches!(app.clients().list(), Err(WardError::WipePending)));
    assert!(matches!(
        app.clients().get(c.clone()),
        Err(WardError::WipePending)
    ));
    assert!(matches!(
        app.notes().list(c.clone()),
        Err(WardError::WipePending)
    ));
    assert!(matches!(
        app.photos().list(c.clone()),
        Err(WardError::WipePending)
    ));
    assert!(matches!(
        app.notes()
            .create(c.clone(), NoteBody::Text { text: "new".into() }),
        Err(WardError::WipePending)
    ));
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    assert!(sync.status().unwrap().wipe_pending);

    // Offline, within the lease: the rescue cannot run, so nothing is shredded yet.
    assert!(matches!(sync.enforce_lease(), Err(WardError::WipePending)));
    assert!(!t.vault.is_wiped());

    // Still offline when the lease runs out (14 days): the next start shreds.
    t.clock.advance_ms(15 * DAY);
    t.reopen();
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    assert!(sync.enforce_lease().unwrap());
    assert!(t.vault.is_wiped());
    assert!(!t.dir().exists(), "the vault folder is gone");
}
