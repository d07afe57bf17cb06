//! Device state without the network: the offline lease warns, then wipes at the next start;
//! the unsynced alarm appears once work has waited past the policy's threshold; the outbox
//! and sealed secrets behave as the sync engine relies on.

mod common;

use common::TestVault;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::sync::WardSync;
use ward_core::sync::device_state::LeaseState;
use ward_core::{Policy, WardError};

const HOUR: i64 = 3600 * 1000;

#[test]
fn offline_lease_warns_then_wipes_at_the_next_start() {
    let t = TestVault::new();
    t.vault
        .set_policy(Policy {
            offline_lease_hours: 48,
            lease_warning_hours: 12,
            ..Policy::default()
        })
        .unwrap();
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    assert_eq!(
        sync.status().unwrap().lease,
        LeaseState::NoLease,
        "never enrolled"
    );
    let contact = t.vault.now_ms();
    t.vault
        .set_sync_meta_i64("last_contact_ms", contact)
        .unwrap();
    let expires_at_ms = contact + 48 * HOUR;
    assert_eq!(
        sync.status().unwrap().lease,
        LeaseState::Valid { expires_at_ms }
    );
    t.clock.advance_ms(37 * HOUR);
    assert_eq!(
        sync.status().unwrap().lease,
        LeaseState::Warning { expires_at_ms }
    );
    assert!(!sync.enforce_lease().unwrap(), "a warning does not wipe");
    assert!(!t.vault.is_wiped());
    t.clock.advance_ms(11 * HOUR);
    assert_eq!(sync.status().unwrap().lease, LeaseState::Expired);
    assert!(sync.enforce_lease().unwrap());
    assert!(t.vault.is_wiped());
    assert!(
        !t.tmp.path().join("vault").exists(),
        "the vault folder is gone"
    );
    assert!(matches!(sync.status(), Err(WardError::Wiped)));
}

#[test]
fn unsynced_work_raises_the_alarm_after_the_threshold() {
    let t = TestVault::new();
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    let c = t
        .vault
        .create_client(ClientInput {
            display_name: "A".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    for i in 0..3 {
        t.vault
            .create_note(
                &c,
                NoteBody::Text {
                    text: format!("n{i}"),
                },
            )
            .unwrap();
    }
    let s = sync.status().unwrap();
    assert_eq!((s.unsynced_notes, s.unsynced_clients), (3, 1));
    assert_eq!(s.unsynced_alarm, None);
    t.clock.advance_ms(49 * HOUR);
    assert_eq!(
        sync.status().unwrap().unsynced_alarm.as_deref(),
        Some("3 notes and 1 client record not synced for 2 days")
    );
}

#[test]
fn outbox_hands_out_batches_and_forgets_only_what_was_acknowledged() {
    let t = TestVault::new();
    let c = t
        .vault
        .create_client(ClientInput {
            display_name: "A".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    let bodies = (0..10)
        .map(|i| NoteBody::Text {
            text: format!("n{i}"),
        })
        .collect();
    t.vault.create_notes(&c, bodies).unwrap();
    let batch = t
        .vault
        .with_unlocked(|ctx| ctx.outbox(4, usize::MAX))
        .unwrap();
    assert_eq!(batch.len(), 4);
    assert_eq!(
        batch[0].object.kind,
        ward_proto::Kind::Client,
        "client records go first"
    );
    // Only the first two were acknowledged; a note written meanwhile joins the outbox.
    let acked: Vec<_> = batch[..2]
        .iter()
        .map(|i| (i.object.object, i.object.version))
        .collect();
    t.vault
        .create_note(
            &c,
            NoteBody::Text {
                text: "during sync".into(),
            },
        )
        .unwrap();
    t.vault
        .with_unlocked(|ctx| ctx.mark_synced(&acked))
        .unwrap();
    let rest = t
        .vault
        .with_unlocked(|ctx| ctx.outbox(100, usize::MAX))
        .unwrap();
    assert_eq!(rest.len(), 12 - 2);
    // A byte budget still hands out at least one version.
    let one = t.vault.with_unlocked(|ctx| ctx.outbox(100, 1)).unwrap();
    assert_eq!(one.len(), 1);
}

#[test]
fn secrets_are_sealed_under_the_vault_key() {
    let t = TestVault::new();
    t.vault
        .with_unlocked(|ctx| ctx.set_secret("device_key", b"MARKER-SECRET-123"))
        .unwrap();
    let back = t
        .vault
        .with_unlocked(|ctx| ctx.secret("device_key"))
        .unwrap()
        .unwrap();
    assert_eq!(back.as_slice(), b"MARKER-SECRET-123");
    t.vault.lock();
    assert!(
        t.vault
            .with_unlocked(|ctx| ctx.secret("device_key"))
            .is_err()
    );
    let files = common::all_files(t.tmp.path());
    assert!(!files.is_empty());
    for (path, bytes) in files {
        assert!(
            !common::contains(&bytes, b"MARKER-SECRET-123"),
            "secret in plaintext in {}",
            path.display()
        );
    }
}

/// The lease is judged by the highest time the phone has ever seen, not by the wall clock:
/// setting the date back after the lease ran out does not bring it back.
#[test]
fn setting_the_clock_back_does_not_extend_the_lease() {
    let mut t = TestVault::new();
    let contact = t.vault.now_ms();
    t.vault
        .set_sync_meta_i64("last_contact_ms", contact)
        .unwrap();
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    assert!(matches!(
        sync.status().unwrap().lease,
        LeaseState::Valid { .. }
    ));
    // 15 days on (default lease: 14 days), the phone is used once…
    t.clock.advance_ms(15 * 24 * HOUR);
    t.vault.unlock().unwrap();
    // …then its date is set back 14 days and the app restarted.
    t.clock.advance_ms(-14 * 24 * HOUR);
    t.reopen();
    let sync = WardSync::for_vault(t.vault.clone()).unwrap();
    assert_eq!(sync.status().unwrap().lease, LeaseState::Expired);
    assert!(sync.enforce_lease().unwrap(), "the lease wipe was dodged");
    assert!(t.vault.is_wiped());
}
