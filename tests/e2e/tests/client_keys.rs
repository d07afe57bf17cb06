//! Per-client keys end to end (ADR 0015), through the core API the apps call, against the real
//! server on both adapters: a client created offline gets its first key on the phone, which is
//! registered before the push; the care team's phones get it, front desk and clinicians off
//! the team do not, so the tenant keys alone (all a front desk phone holds) open no note;
//! a removal rotates the key, so a note written afterwards does not open with what the removed
//! clinician's phone held; a second first key for the same client is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::BTreeMap;

use ward_backend::domain::client_keys::open_stored_keys;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_e2e::{Backend, Device, Store};
use ward_proto::envelope::ClientRing;
use ward_proto::{ClientKey, Envelope, Header, ObjectId, TenantId, TenantKey};

fn patient(name: &str) -> ClientInput {
    ClientInput {
        display_name: name.into(),
        date_of_birth: None,
        external_ref: None,
    }
}

fn text(t: &str) -> NoteBody {
    NoteBody::Text { text: t.into() }
}

fn user_id(d: &Device) -> String {
    d.vault.status().user_id
}

fn held(d: &Device) -> BTreeMap<ObjectId, Vec<u32>> {
    d.vault
        .inner()
        .with_unlocked(|ctx| Ok(ctx.held_client_keys()))
        .unwrap()
}

/// The envelope of a note version as the server stores it.
fn stored(b: &Backend, t: TenantId, note: &str, version: &str) -> Vec<u8> {
    b.block_on(
        b.stores
            .objects
            .get_object(t, note.parse().unwrap(), version.parse().unwrap()),
    )
    .unwrap()
    .unwrap()
    .envelope
    .unwrap()
}

fn opens(envelope: &[u8], tenant: &[TenantKey], client: &[ClientKey], id: ObjectId) -> bool {
    let header = Header::parse(envelope).unwrap();
    let ring = ClientRing {
        tenant,
        client,
        client_id: Some(id),
    };
    Envelope::open(&header.object, &ring, envelope).is_ok()
}

fn keys_follow_the_care_team(store: Store) {
    let b = Backend::start(store, None);
    let t: TenantId = b.tenant.parse().unwrap();
    let admin = Device::first_admin(&b);
    let desk = Device::staff(&b, &admin, "front_desk", "Front Desk");
    let a = Device::staff(&b, &admin, "clinician", "Dr A");
    let bee = Device::staff(&b, &admin, "clinician", "Dr B");

    // A registers a patient and writes a note with no signal: the first key is made on the
    // phone; the sync registers it, then pushes.
    let c = a.vault.clients().create(patient("Ada Patient")).unwrap();
    let id: ObjectId = c.client_id.parse().unwrap();
    let n = a
        .vault
        .notes()
        .create(c.client_id.clone(), text("home visit, no signal"))
        .unwrap();
    assert_eq!(held(&a).get(&id), Some(&vec![1]));
    a.sync_until_done(2);
    let server_keys = b.block_on(open_stored_keys(&b.stores, t, id)).unwrap();
    assert_eq!(server_keys.len(), 1, "the phone's first key is registered");
    let envelope = stored(&b, t, &n.note_id, &n.version_id);
    assert_eq!(
        Header::parse(&envelope).unwrap().client_generation(),
        Some(1)
    );
    let every_tenant_key = b.tenant_keys_in_clear();
    assert!(
        !opens(&envelope, &every_tenant_key, &[], id),
        "the tenant keys (all a front desk phone holds) open a clinical note"
    );
    assert!(opens(&envelope, &every_tenant_key, &server_keys, id));

    // Front desk and B (not on the team) hold no key of the patient after a sync.
    desk.sync_until_done(2);
    bee.sync_until_done(2);
    assert!(held(&desk).is_empty(), "front desk holds client keys");
    assert!(
        !held(&bee).contains_key(&id),
        "B holds a key of a patient not theirs"
    );

    // B joins the team: B's next sync brings the key, and A's note opens on B's phone.
    admin
        .sync
        .add_to_care_team(c.client_id.clone(), user_id(&bee), Some("covering".into()))
        .unwrap();
    bee.sync_until_done(2);
    assert_eq!(held(&bee).get(&id), Some(&vec![1]));
    assert_eq!(
        bee.vault.notes().get(n.note_id.clone()).unwrap().note_id,
        n.note_id
    );

    // B leaves: the key rotates; B's phone drops the patient and its keys; A's next note is
    // sealed under generation 2, which B's phone never had.
    admin
        .sync
        .remove_from_care_team(
            c.client_id.clone(),
            user_id(&bee),
            Some("cover ended".into()),
        )
        .unwrap();
    let b_had: Vec<ClientKey> = b.block_on(open_stored_keys(&b.stores, t, id)).unwrap();
    assert_eq!(b_had.len(), 2, "a removal makes a new generation");
    bee.sync.sync(None).unwrap();
    assert!(!held(&bee).contains_key(&id));
    a.sync_until_done(2);
    assert_eq!(held(&a).get(&id), Some(&vec![1, 2]));
    let later = a
        .vault
        .notes()
        .create(c.client_id.clone(), text("after B left"))
        .unwrap();
    a.sync_until_done(2);
    let envelope = stored(&b, t, &later.note_id, &later.version_id);
    assert_eq!(
        Header::parse(&envelope).unwrap().client_generation(),
        Some(2)
    );
    let gen1: Vec<ClientKey> = b_had
        .iter()
        .filter(|k| k.generation == 1)
        .cloned()
        .collect();
    assert!(
        !opens(&envelope, &every_tenant_key, &gen1, id),
        "what B's phone held opens a note written after B left"
    );

    // A patient front desk registers (its identity record under the tenant key) gets its
    // first key from the server at the assigned clinician's next sync.
    let p = desk
        .vault
        .clients()
        .create_assigned(patient("Bo Patient"), vec![user_id(&a)])
        .unwrap();
    desk.sync_until_done(2);
    a.sync_until_done(2);
    let pid: ObjectId = p.client_id.parse().unwrap();
    // The sync that brought the patient brought a key made for them: A can write offline.
    assert_eq!(held(&a).get(&pid), Some(&vec![1]));
    let first = a
        .vault
        .notes()
        .create(p.client_id.clone(), text("intake"))
        .unwrap();
    a.sync_until_done(2);
    let envelope = stored(&b, t, &first.note_id, &first.version_id);
    let keys = b.block_on(open_stored_keys(&b.stores, t, pid)).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(opens(&envelope, &every_tenant_key, &keys, pid));
    assert!(!opens(&envelope, &every_tenant_key, &[], pid));
}

#[test]
fn keys_follow_the_care_team_embedded() {
    keys_follow_the_care_team(Store::Embedded);
}

#[test]
fn keys_follow_the_care_team_aws_moto() {
    keys_follow_the_care_team(Store::AwsMoto);
}
