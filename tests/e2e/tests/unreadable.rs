//! A pulled record the core cannot parse (written by a newer build, say) never disappears
//! without a trace (issue 13): it is counted in the sync summary, listed by the vault, and its
//! envelope stays on the phone so a newer build can read it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use ward_core::domain::clients::ClientInput;
use ward_core::vault::NewVersion;
use ward_core::{SoftwareKeyStore, WardVault};
use ward_e2e::{Backend, Device, Store};
use ward_proto::{Kind, ObjectId};

#[test]
fn an_unparseable_pulled_record_is_counted_listed_and_kept() {
    let b = Backend::start(Store::Embedded, None);
    let admin = Device::first_admin(&b);
    let other = Device::staff(&b, &admin, "admin", "Second admin");
    admin
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Readable Client".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap();
    // A client record in a format this build does not know, sealed like any other.
    let odd = ObjectId::random();
    admin
        .vault
        .inner()
        .with_unlocked(|ctx| {
            let object = ctx.new_ref(odd, Kind::Client);
            ctx.insert_sealed(
                ctx.conn,
                &NewVersion {
                    object,
                    client: Some(odd),
                    parent: None,
                    plaintext: br#"{"format":2,"name_parts":["A","B"]}"#,
                    note: None,
                },
            )
        })
        .unwrap();
    admin.sync_until_done(2);

    let summary = other.sync.sync(None).unwrap();
    assert_eq!(
        summary.unreadable, 1,
        "the unreadable record was not counted"
    );
    let names: Vec<String> = other
        .vault
        .clients()
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    assert_eq!(names, vec!["Readable Client".to_string()]);
    let listed = other.vault.unreadable_records().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].object_id, odd.to_string());
    assert_eq!(listed[0].kind, "client");
    assert!(
        listed[0].reason.contains("newer Ward"),
        "{}",
        listed[0].reason
    );
    assert_eq!(other.vault.status().unreadable_records, 1);
    assert!(
        other
            .local_versions()
            .iter()
            .any(|(o, _, _)| *o == odd.to_string()),
        "the envelope was not kept"
    );

    // After a restart it is still there and still counted.
    let reopened = WardVault::open(
        other.dir.path().join("vault").to_str().unwrap().into(),
        SoftwareKeyStore::new(other.dir.path().join("keys").to_str().unwrap().into()).unwrap(),
    )
    .unwrap();
    reopened.unlock().unwrap();
    assert_eq!(reopened.status().unreadable_records, 1);
    assert_eq!(
        reopened.unreadable_records().unwrap()[0].object_id,
        odd.to_string()
    );
}
