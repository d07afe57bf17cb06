//! A signed note is locked on the server too (issue 13, item 4): its envelope states "signed"
//! in the authenticated header, and the server refuses any later version of it, whether it
//! comes from a phone that edited the draft offline or from an app that skips the core's own
//! check. A note whose header states another state than its content is refused by the reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::vault::NewVersion;
use ward_e2e::{Backend, Device, Store};
use ward_proto::{Kind, NoteState, ObjectId, VersionId};

fn text(t: &str) -> NoteBody {
    NoteBody::Text { text: t.into() }
}

/// Stores a version of `note` the way a modified app would: sealed like any other, with the
/// header state given, past the core's own rules.
fn forge(d: &Device, note: &str, parent: Option<&str>, client: &str, json: &str, state: NoteState) {
    let (note, client): (ObjectId, ObjectId) = (note.parse().unwrap(), client.parse().unwrap());
    let parent: Option<VersionId> = parent.map(|p| p.parse().unwrap());
    d.vault
        .inner()
        .with_unlocked(|ctx| {
            let object = ctx.new_ref(note, Kind::Note);
            ctx.insert_sealed(
                ctx.conn,
                &NewVersion {
                    object,
                    client: Some(client),
                    parent,
                    plaintext: json.as_bytes(),
                    note: Some(state),
                },
            )
        })
        .unwrap();
}

#[test]
fn the_server_keeps_a_signed_note_locked() {
    let b = Backend::start(Store::Embedded, None);
    let a = Device::first_admin(&b);
    let other = Device::staff(&b, &a, "admin", "Second admin");
    let client = a
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Locked Client".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap();
    let draft = a
        .vault
        .notes()
        .create(client.client_id.clone(), text("first draft"))
        .unwrap();
    a.sync_until_done(2);
    other.sync_until_done(2);

    // A signs; the other device, offline, edits the draft it still has.
    let signed = a
        .vault
        .notes()
        .sign(draft.note_id.clone(), draft.version_id.clone())
        .unwrap();
    a.sync_until_done(2);
    let late = other
        .vault
        .notes()
        .edit(
            draft.note_id.clone(),
            draft.version_id.clone(),
            text("edited after the signature"),
        )
        .unwrap();
    let summary = other.sync.sync(None).unwrap();
    assert_eq!(
        summary.refused, 1,
        "a draft over a signed note was accepted"
    );
    let on_server = b.server_versions();
    assert!(
        !on_server.iter().any(|(_, v, _)| *v == late.version_id),
        "the late edit reached the record"
    );
    assert!(on_server.iter().any(|(_, v, _)| *v == signed.version_id));
    // Refused, not lost: the edit stays on the phone that wrote it.
    assert!(
        other
            .local_versions()
            .iter()
            .any(|(_, v, _)| *v == late.version_id)
    );

    // An app that skips the core's check: a draft whose parent is the signed version.
    forge(
        &a,
        &draft.note_id,
        Some(&signed.version_id),
        &client.client_id,
        &format!(
            r#"{{"client_id":"{}","body":{{"type":"text","text":"rewritten"}},"status":"draft","author":"x","created_at_ms":1}}"#,
            client.client_id
        ),
        NoteState::Draft,
    );
    let summary = a.sync.sync(None).unwrap();
    assert_eq!(
        summary.refused, 1,
        "a forged draft over a signed note was accepted"
    );

    // The addendum, the way the app writes it, goes through and is locked itself.
    let amended = a
        .vault
        .notes()
        .amend(draft.note_id.clone(), "addendum text".into())
        .unwrap();
    let summary = a.sync.sync(None).unwrap();
    assert_eq!((summary.pushed, summary.refused), (1, 0));
    let addendum = amended.addenda[0].addendum_id.clone();
    let (_, addendum_version, _) = a
        .local_versions()
        .into_iter()
        .find(|(o, _, _)| *o == addendum)
        .unwrap();
    let before = b.server_versions().len();
    forge(
        &a,
        &addendum,
        Some(&addendum_version),
        &client.client_id,
        &format!(
            r#"{{"client_id":"{}","body":{{"type":"text","text":"changed addendum"}},"status":"signed","author":"x","created_at_ms":1,"amends":{{"object_id":"{}","version_id":"{}"}}}}"#,
            client.client_id, draft.note_id, signed.version_id
        ),
        NoteState::Addendum,
    );
    let summary = a.sync.sync(None).unwrap();
    assert_eq!(
        summary.refused, 1,
        "a second version of an addendum was accepted"
    );
    assert_eq!(b.server_versions().len(), before);
}

#[test]
fn a_note_whose_header_states_another_state_is_unreadable() {
    let b = Backend::start(Store::Embedded, None);
    let a = Device::first_admin(&b);
    let other = Device::staff(&b, &a, "admin", "Second admin");
    let client = a
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Mislabelled Client".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap();
    // Signed content in an envelope that says "draft": the server would not lock it, so the
    // reader must not believe it either.
    let note = ObjectId::random().to_string();
    forge(
        &a,
        &note,
        None,
        &client.client_id,
        &format!(
            r#"{{"client_id":"{}","body":{{"type":"text","text":"looks signed"}},"status":"signed","author":"x","created_at_ms":1,"signed_at_ms":1}}"#,
            client.client_id
        ),
        NoteState::Draft,
    );
    a.sync_until_done(2);
    let summary = other.sync.sync(None).unwrap();
    assert_eq!(summary.unreadable, 1);
    let listed = other.vault.unreadable_records().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].object_id, note);
    assert!(
        listed[0].reason.contains("states another state"),
        "{}",
        listed[0].reason
    );
    assert!(other.vault.notes().get(note.clone()).is_err());
}
