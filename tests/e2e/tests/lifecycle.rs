//! Device lifecycle end to end (DESIGN property 6): an admin revokes a clinician's phone that
//! holds unsynced notes; at its next contact the phone verifies the signed wipe command,
//! rescues its notes to quarantine, crypto-shreds its vault and sends a signed receipt; the
//! admin sees "wiped", accepts the rescued notes, and nothing is lost. Also: a forged wipe
//! command is refused and the vault stays intact; after the rotation the revoked phone's keys
//! cannot open new data; a lockdown leaves no session alive.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use ward_backend::model::{DeviceStatus, QuarantineStatus, WipeState};
use ward_core::WardError;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::sync::PasskeyProvider;
use ward_e2e::{Backend, Device, Store};
use ward_proto::{DeviceId, Envelope, TenantId};

fn text(s: &str) -> NoteBody {
    NoteBody::Text { text: s.into() }
}

fn client(d: &Device, name: &str) -> String {
    d.vault
        .clients()
        .create(ClientInput {
            display_name: name.into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
}

fn passkey(d: &Device) -> Arc<dyn PasskeyProvider> {
    d.passkey.clone()
}

fn tenant(b: &Backend) -> TenantId {
    b.tenant.parse().unwrap()
}

fn server_device(b: &Backend, d: &str) -> ward_backend::model::Device {
    let id: DeviceId = d.parse().unwrap();
    b.block_on(b.stores.devices.get_device(tenant(b), id))
        .unwrap()
        .unwrap()
}

/// Every file under `dir` (recursively).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn revoked_phone_rescues_then_wipes(store: Store) {
    let b = Backend::start(store, None);
    let admin = Device::first_admin(&b);
    let nurse = Device::staff(&b, &admin, "clinician", "Nurse");
    let jane = client(&nurse, "Jane Roe");
    for i in 0..3 {
        nurse
            .vault
            .notes()
            .create(jane.clone(), text(&format!("synced {i}")))
            .unwrap();
    }
    nurse.sync_until_done(1);
    // Written with no signal, never synced: these must survive the wipe.
    let mut offline = HashSet::new();
    for i in 0..5 {
        let n = nurse
            .vault
            .notes()
            .create(jane.clone(), text(&format!("offline {i}")))
            .unwrap();
        offline.insert((n.note_id, n.version_id));
    }
    assert_eq!(nurse.sync.status().unwrap().unsynced_notes, 5);

    // The phone is lost; the admin revokes it (with a passkey step-up).
    let answer: Value = serde_json::from_str(
        &admin
            .sync
            .revoke_device(nurse.device_id(), passkey(&admin))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["status"], "revoked");
    assert_eq!(answer["epoch"], 2, "revocation rotates the tenant key");
    let command_id = answer["wipe_command_id"].as_str().unwrap().to_string();
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Revoked);
    assert!(d.wipe.as_ref().unwrap().receipt.is_none());

    // Next contact: the phone executes the wipe.
    match nurse.sync.sync(None) {
        Err(WardError::Wiped) => {}
        other => panic!("expected the device to be wiped, got {other:?}"),
    }
    // Crypto-shredded: the platform key is gone and no vault file remains.
    assert!(
        files_under(&nurse.dir.path().join("vault"))
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".db")),
        "vault database left behind"
    );
    assert!(
        nurse.vault.notes().list(jane.clone()).is_err(),
        "the wiped vault still answers"
    );

    // The admin sees "wiped at …" with the signed receipt.
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Wiped);
    let WipeState {
        command_id: cid,
        receipt,
        ..
    } = d.wipe.unwrap();
    assert_eq!(cid, command_id);
    let receipt = receipt.expect("receipt recorded");
    assert_eq!(receipt.rescued_versions, 5);
    assert!(receipt.wiped_at_ms > 0);
    let listed: Value = serde_json::from_str(&admin.sync.list_devices().unwrap()).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device_id"] == nurse.device_id())
        .unwrap();
    assert_eq!(row["status"], "wiped");
    assert!(row["wipe"]["receipt"]["wiped_at_ms"].as_i64().is_some());

    // Exactly the unsynced notes are in quarantine; the admin accepts them all.
    let q: Vec<ward_backend::model::QuarantineItem> =
        serde_json::from_str(&admin.sync.quarantine().unwrap()).unwrap();
    let rescued: HashSet<(String, String)> = q
        .iter()
        .map(|i| (i.object_id.to_string(), i.version_id.to_string()))
        .collect();
    assert_eq!(
        rescued, offline,
        "quarantine holds exactly the unsynced notes"
    );
    assert!(q.iter().all(|i| i.status == QuarantineStatus::Pending));
    // Quarantine holds envelopes only: no rescued note's text is anywhere in the server's
    // data folder (embedded; the AWS adapter's stores are scanned by the adapter suite).
    for f in files_under(&b.data_dir()) {
        let bytes = std::fs::read(&f).unwrap();
        for i in 0..5 {
            let marker = format!("offline {i}");
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{marker:?} in clear in {}",
                f.display()
            );
        }
    }
    for i in &q {
        admin
            .sync
            .decide_quarantine(i.version_id.to_string(), true)
            .unwrap();
    }
    // Deciding twice is refused.
    assert!(
        admin
            .sync
            .decide_quarantine(q[0].version_id.to_string(), false)
            .is_err()
    );

    // 0 notes lost: every note the nurse wrote reaches the admin's phone.
    admin.sync_until_done(3);
    let notes = admin.vault.notes().list(jane.clone()).unwrap();
    assert_eq!(notes.len(), 8, "3 synced + 5 rescued notes");
    for (note, _) in &offline {
        admin.vault.notes().get(note.clone()).unwrap();
    }

    // After the rotation the admin's phone seals under epoch 2, which the revoked phone never
    // had: its keys (epoch 1) cannot open the new note.
    let fresh = admin
        .vault
        .notes()
        .create(jane.clone(), text("written after the revocation"))
        .unwrap();
    admin.sync_until_done(3);
    let t = tenant(&b);
    let stored = b
        .block_on(b.stores.objects.get_object(
            t,
            fresh.note_id.parse().unwrap(),
            fresh.version_id.parse().unwrap(),
        ))
        .unwrap()
        .unwrap();
    let envelope = stored.envelope.unwrap();
    let header = ward_proto::Header::parse(&envelope).unwrap();
    // Sealed under Jane's client key, whose generation the revocation moved past the one the
    // lost phone held (and under tenant epoch 2 for what is sealed under the tenant key).
    assert_eq!(header.client_generation(), Some(2));
    let jane_id: ward_proto::ObjectId = jane.parse().unwrap();
    let jane_keys = b
        .block_on(ward_backend::domain::client_keys::open_stored_keys(
            &b.stores, t, jane_id,
        ))
        .unwrap();
    assert_eq!(jane_keys.len(), 2);
    let keys = b.tenant_keys_in_clear();
    let opens = |client: &[ward_proto::ClientKey]| {
        let ring = ward_proto::envelope::ClientRing {
            tenant: &keys,
            client,
            client_id: Some(jane_id),
        };
        Envelope::open(&header.object, &ring, &envelope).is_ok()
    };
    let old: Vec<ward_proto::ClientKey> = jane_keys
        .iter()
        .filter(|k| k.generation == 1)
        .cloned()
        .collect();
    assert!(
        !opens(&old),
        "the revoked phone's generation-1 key opens data written after its revocation"
    );
    assert!(opens(&jane_keys));
}

/// A wipe command not signed by the key pinned at enrollment does nothing.
fn forged_wipe_is_refused(store: Store) {
    let b = Backend::start(store, None);
    let admin = Device::first_admin(&b);
    let nurse = Device::staff(&b, &admin, "clinician", "Nurse");
    let jane = client(&nurse, "Jane Roe");
    let note = nurse
        .vault
        .notes()
        .create(jane.clone(), text("keep me"))
        .unwrap();
    let t = tenant(&b);
    let id: DeviceId = nurse.device_id().parse().unwrap();
    // Someone with write access to the server's store (or a man in the middle) queues a wipe
    // signed with a key of their own.
    let forger = ward_proto::wipe::WipeSigner::from_seed(&[42u8; 32]).unwrap();
    let signed = forger
        .sign(&ward_proto::wipe::WipeCommand {
            version: 1,
            tenant: t,
            device: id,
            command_id: "forged".into(),
            issued_at_ms: 1,
            rescue: false,
        })
        .unwrap();
    let forged = WipeState {
        command_id: "forged".into(),
        issued_at_ms: 1,
        rescue: false,
        signed,
        receipt: None,
    };
    b.block_on(b.stores.lifecycle.set_device_wipe(t, id, &forged))
        .unwrap();
    assert!(
        b.block_on(b.stores.devices.set_device_status(
            t,
            id,
            &[DeviceStatus::Active],
            DeviceStatus::Revoked
        ))
        .unwrap()
    );
    match nurse.sync.sync(None) {
        Err(WardError::Wiped) => panic!("a forged wipe command was executed"),
        Err(_) => {}
        Ok(_) => panic!("a revoked device synced"),
    }
    // The vault is intact and the note still readable; no receipt was sent.
    assert_eq!(
        nurse
            .vault
            .notes()
            .get(note.note_id.clone())
            .unwrap()
            .version_id,
        note.version_id
    );
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Revoked);
    assert!(d.wipe.unwrap().receipt.is_none());
}

/// Lockdown: every other device revoked and wiped at its next contact, the key rotated, and
/// no session left — the admin's own included (its passkey signs it in again).
fn lockdown_leaves_no_session(store: Store) {
    let b = Backend::start(store, None);
    let admin = Device::first_admin(&b);
    let a = Device::staff(&b, &admin, "clinician", "A");
    let c = Device::staff(&b, &admin, "front_desk", "C");
    let answer: Value =
        serde_json::from_str(&admin.sync.lockdown(passkey(&admin)).unwrap()).unwrap();
    assert_eq!(answer["devices_revoked"], 2);
    assert_eq!(answer["epoch"], 2);
    for d in [&a, &c] {
        match d.sync.sync(None) {
            Err(WardError::Wiped) => {}
            other => panic!("expected a wipe, got {other:?}"),
        }
    }
    match admin.sync.sync(None) {
        Err(WardError::SignInRequired { .. }) => {}
        other => panic!("the admin's session survived the lockdown: {other:?}"),
    }
    assert_eq!(admin.sync.login(passkey(&admin)).unwrap(), "active");
    admin.sync_until_done(2);
}

ward_e2e::on_both_adapters!(
    revoked_phone_rescues_then_wipes,
    forged_wipe_is_refused,
    lockdown_leaves_no_session
);

/// An admin's policy change (step-up) reaches every phone at its next sync; an invalid one is
/// refused with a clear message and changes nothing.
#[test]
fn clinic_policy_reaches_devices() {
    let b = Backend::start(Store::Embedded, None);
    let admin = Device::first_admin(&b);
    let nurse = Device::staff(&b, &admin, "clinician", "Nurse");
    let before = nurse.vault.policy();
    assert_eq!(before.offline_lease_hours, 336);
    let bad = admin.sync.update_clinic_policy(
        r#"{"idle_lock_seconds": 5, "offline_lease_hours": 168, "lease_warning_hours": 48,
            "photo_consent_required": true, "exif_keep": ["Orientation"], "rescue_on_wipe": true}"#
            .into(),
        passkey(&admin),
    );
    match bad {
        Err(WardError::ServerRefused { detail }) => assert!(detail.contains("idle_lock_seconds")),
        other => panic!("an invalid policy was accepted: {other:?}"),
    }
    admin
        .sync
        .update_clinic_policy(
            r#"{"idle_lock_seconds": 120, "offline_lease_hours": 168, "lease_warning_hours": 48,
                "photo_consent_required": false, "exif_keep": ["Orientation", "DateTimeOriginal"],
                "rescue_on_wipe": true}"#
                .into(),
            passkey(&admin),
        )
        .unwrap();
    nurse.sync_until_done(2);
    let after = nurse.vault.policy();
    assert_eq!(after.idle_lock_seconds, 120);
    assert_eq!(after.offline_lease_hours, 168);
    assert_eq!(after.lease_warning_hours, 48);
    assert!(!after.photo_consent_required);
    assert_eq!(after.exif_keep_tags, vec![0x0112, 0x9003]);
    assert_eq!(after.thumbnail_max_edge, before.thumbnail_max_edge);
    // Applied once: the next sync does not fetch it again (one pull request, nothing else).
    let summary = nurse.sync.sync(None).unwrap();
    assert_eq!(
        summary.requests, 1,
        "idle sync after the policy was applied"
    );
}
