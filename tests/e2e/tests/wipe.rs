//! A wipe that cannot be dodged (issue 13): once the phone has verified a wipe command it
//! shows no data, across restarts, until the wipe finishes; a lost rescue or a lost receipt
//! only delays it. Both run behind the fault proxy, which cuts one endpoint at a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;

use ward_backend::model::DeviceStatus;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::sync::{PasskeyProvider, WardSync};
use ward_core::{SoftwareKeyStore, WardError, WardVault};
use ward_e2e::{Backend, Device, FaultConfig, Store};
use ward_proto::{DeviceId, TenantId};

fn server_device(b: &Backend, d: &str) -> ward_backend::model::Device {
    let t: TenantId = b.tenant.parse().unwrap();
    let id: DeviceId = d.parse().unwrap();
    b.block_on(b.stores.devices.get_device(t, id))
        .unwrap()
        .unwrap()
}

/// A nurse's phone with a client and three notes written offline, revoked by the admin.
fn revoked_nurse(b: &Backend) -> (Device, String) {
    let admin = Device::first_admin(b);
    let nurse = Device::staff(b, &admin, "clinician", "Nurse");
    let jane = nurse
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Jane Roe".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    for i in 0..3 {
        nurse
            .vault
            .notes()
            .create(
                jane.clone(),
                NoteBody::Text {
                    text: format!("offline {i}"),
                },
            )
            .unwrap();
    }
    let passkey: Arc<dyn PasskeyProvider> = admin.passkey.clone();
    admin
        .sync
        .revoke_device(nurse.device_id(), passkey)
        .unwrap();
    (nurse, jane)
}

#[test]
fn a_lost_rescue_leaves_no_data_shown_and_the_wipe_finishes_later() {
    let b = Backend::start(Store::Embedded, Some(FaultConfig::none()));
    let proxy = b.proxy.as_ref().unwrap();
    let (nurse, jane) = revoked_nurse(&b);
    proxy.block_path(Some("/wipe/quarantine"));

    // Next contact: the command verifies, the rescue is lost. Nothing may be shown now.
    match nurse.sync.sync(None) {
        Err(WardError::WipePending) => {}
        other => panic!("expected a pending wipe, got {other:?}"),
    }
    assert!(
        proxy
            .stats
            .blocked
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    assert!(matches!(
        nurse.vault.clients().list(),
        Err(WardError::WipePending)
    ));
    assert!(matches!(
        nurse.vault.notes().list(jane.clone()),
        Err(WardError::WipePending)
    ));

    // The app is killed and started again (still no rescue getting through): still nothing.
    let vault_dir = nurse.dir.path().join("vault");
    let keys = nurse.dir.path().join("keys");
    let restart = || {
        let vault = WardVault::open(
            vault_dir.to_str().unwrap().into(),
            SoftwareKeyStore::new(keys.to_str().unwrap().into()).unwrap(),
        )
        .unwrap();
        let sync = WardSync::new(vault.clone()).unwrap();
        (vault, sync)
    };
    let (vault, sync) = restart();
    assert!(matches!(sync.enforce_lease(), Err(WardError::WipePending)));
    vault.unlock().unwrap();
    assert!(matches!(
        vault.clients().list(),
        Err(WardError::WipePending)
    ));
    assert!(matches!(
        vault.notes().list(jane.clone()),
        Err(WardError::WipePending)
    ));
    assert!(sync.status().unwrap().wipe_pending);
    assert!(matches!(sync.enforce_lease(), Err(WardError::WipePending)));
    assert_eq!(
        server_device(&b, &nurse.device_id()).status,
        DeviceStatus::Revoked
    );

    // Signal again: the next start rescues, shreds and reports.
    proxy.block_path(None);
    assert!(
        sync.enforce_lease().unwrap(),
        "the pending wipe did not finish"
    );
    assert!(vault.status().wiped);
    assert!(
        !vault_dir.join("vault.db").exists(),
        "vault database left behind"
    );
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Wiped);
    let receipt = d.wipe.unwrap().receipt.expect("receipt recorded");
    assert_eq!(receipt.rescued_versions, 4, "the client record and 3 notes");
}

#[test]
fn a_lost_wipe_receipt_arrives_at_a_later_start() {
    let b = Backend::start(Store::Embedded, Some(FaultConfig::none()));
    let proxy = b.proxy.as_ref().unwrap();
    let (nurse, _) = revoked_nurse(&b);
    proxy.block_path(Some("/wipe/receipt"));

    match nurse.sync.sync(None) {
        Err(WardError::Wiped) => {}
        other => panic!("expected the device to be wiped, got {other:?}"),
    }
    let vault_dir = nurse.dir.path().join("vault");
    assert!(!vault_dir.join("vault.db").exists(), "not shredded");
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Revoked);
    assert!(d.wipe.as_ref().unwrap().receipt.is_none());
    // The signed receipt waits beside the (gone) vault, readable by the owner only.
    let file = nurse.dir.path().join("vault.wipe-receipt.json");
    assert!(file.exists(), "no receipt kept outside the vault");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A start while the receipt is still lost keeps it; a later one delivers it.
    let dir = vault_dir.to_str().unwrap().to_string();
    assert!(!ward_core::ffi::send_pending_wipe_receipt(dir.clone()).unwrap());
    assert!(file.exists());
    proxy.block_path(None);
    assert!(ward_core::ffi::send_pending_wipe_receipt(dir.clone()).unwrap());
    assert!(!file.exists(), "the delivered receipt is still kept");
    let d = server_device(&b, &nurse.device_id());
    assert_eq!(d.status, DeviceStatus::Wiped);
    assert_eq!(d.wipe.unwrap().receipt.unwrap().rescued_versions, 4);
    // Nothing left: later starts send nothing.
    assert!(ward_core::ffi::send_pending_wipe_receipt(dir).unwrap());
}
