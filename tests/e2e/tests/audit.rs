//! End-to-end audit: a phone's hash-chained audit log — a note read while offline included —
//! reaches the backend at the next sync, verified and unflagged, and shows in the admin's
//! audit query and in the device's breach-scope data; on the embedded store and on moto.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use ward_backend::model::AuditSource;
use ward_backend::store::AuditQuery;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_e2e::{Backend, Device, FaultConfig, Store};
use ward_proto::{DeviceId, ObjectId, TenantId};

fn offline_read_reaches_the_admins_audit_view(store: Store) {
    let b = Backend::start(store, Some(FaultConfig::none()));
    let admin = Device::first_admin(&b);
    let clin = Device::staff(&b, &admin, "clinician", "Dr Offline");
    let client = clin
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Home visit".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    let note = clin
        .vault
        .notes()
        .create(
            client.clone(),
            NoteBody::Text {
                text: "wound healing".into(),
            },
        )
        .unwrap();
    clin.sync_until_done(3);
    let unsynced = || clin.vault.inner().unsynced_audit_count().unwrap();
    assert_eq!(unsynced(), 0, "the sync uploaded the chain");

    // Offline: the clinician reads the note; the read is recorded on the phone.
    let proxy = b.proxy.as_ref().unwrap();
    proxy.set_down(true);
    clin.vault.notes().get(note.note_id.clone()).unwrap();
    assert!(unsynced() >= 1);
    match clin.sync.sync(None) {
        Err(ward_core::WardError::Offline { .. }) => {}
        other => panic!("expected Offline, got {other:?}"),
    }
    proxy.set_down(false);
    clin.sync_until_done(3);
    assert_eq!(unsynced(), 0);

    // The admin's view of the device's events: the offline read, attributed and unflagged.
    let tenant: TenantId = b.tenant.parse().unwrap();
    let device: DeviceId = clin.device_id().parse().unwrap();
    let client: ObjectId = client.parse().unwrap();
    let page = b
        .block_on(b.stores.audit.query(
            tenant,
            &AuditQuery {
                device: Some(device),
                limit: 1000,
                oldest_first: true,
                ..AuditQuery::default()
            },
        ))
        .unwrap();
    let device_events: Vec<_> = page
        .entries
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e.source == AuditSource::Device)
        .collect();
    let local = clin.vault.audit().events(0, 10_000).unwrap();
    assert_eq!(
        device_events.len(),
        local.len(),
        "every local event is on the server"
    );
    assert!(
        device_events
            .iter()
            .all(|e| e.chain.as_ref().unwrap().flag.is_none())
    );
    let view = device_events
        .iter()
        .rfind(|e| e.record.action == "view")
        .expect("the offline read");
    assert_eq!(view.client, Some(client));
    assert_eq!(view.record.target.as_deref(), Some(note.note_id.as_str()));
    assert_eq!(view.record.device_id, Some(device));
    // Server-side records of the same device: what it created, per client.
    assert!(
        page.entries
            .iter()
            .any(|(_, e)| e.source == AuditSource::Server
                && e.record.action == "client.create"
                && e.client == Some(client))
    );
    let head = b
        .block_on(b.stores.audit.chain_head(tenant, device))
        .unwrap()
        .unwrap();
    assert_eq!(head.seq, local.last().unwrap().seq);
}

#[test]
fn offline_read_reaches_the_admins_audit_view_embedded() {
    offline_read_reaches_the_admins_audit_view(Store::Embedded);
}

#[test]
fn offline_read_reaches_the_admins_audit_view_aws_moto() {
    offline_read_reaches_the_admins_audit_view(Store::AwsMoto);
}
