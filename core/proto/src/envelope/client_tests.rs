//! Format 3: content keys wrapped under a client key (ADR 0015).

use super::*;
use crate::keys::{ClientKey, TenantKey};

use super::tests::obj;

fn ring<'a>(tenant: &'a [TenantKey], keys: &'a [ClientKey], client: ObjectId) -> ClientRing<'a> {
    ClientRing {
        tenant,
        client: keys,
        client_id: Some(client),
    }
}

#[test]
fn a_client_key_seals_format_three_and_only_that_clients_key_opens_it() {
    let client = ObjectId::random();
    let other = ObjectId::random();
    let tk = [TenantKey::generate(1).unwrap()];
    let ck = ClientKey::generate(client, 1).unwrap();
    let foreign = ClientKey::generate(other, 1).unwrap();
    let o = obj(Kind::Note);
    let e = Envelope::seal_note(o, NoteState::Draft, &ck, b"session note").unwrap();
    let h = Header::parse(&e).unwrap();
    assert_eq!(h.format, FORMAT_V3);
    assert_eq!(h.client_generation(), Some(1));
    assert_eq!(h.note, Some(NoteState::Draft));
    let keys = [ck.clone(), foreign.clone()];
    assert_eq!(
        Envelope::open(&o, &ring(&tk, &keys, client), &e).unwrap(),
        b"session note"
    );
    // The tenant keys alone (front desk) open nothing of it.
    assert_eq!(
        Envelope::open(&o, tk.as_slice(), &e),
        Err(EnvelopeError::NoClientKey(1))
    );
    // Another client's ring, even one holding a key of the same generation, does not open it.
    assert_eq!(
        Envelope::open(&o, &ring(&tk, &keys, other), &e),
        Err(EnvelopeError::Unwrap)
    );
    // A key of the right generation but another client, relabelled as this client's key.
    let relabelled = ClientKey {
        client,
        generation: 1,
        key: foreign.key.clone(),
    };
    assert_eq!(
        Envelope::open(&o, &ring(&tk, &[relabelled], client), &e),
        Err(EnvelopeError::Unwrap)
    );
}

#[test]
fn the_client_id_is_bound_into_the_wrap() {
    // The same key material filed under another client id does not unwrap: the client id is
    // in the wrap's associated data, not only implied by the key.
    let client = ObjectId::random();
    let ck = ClientKey::generate(client, 3).unwrap();
    let o = obj(Kind::Consent);
    let e = Envelope::seal(o, &ck, b"consent").unwrap();
    let moved = ClientKey {
        client: ObjectId::random(),
        generation: 3,
        key: ck.key.clone(),
    };
    assert_eq!(Envelope::open(&o, &moved, &e), Err(EnvelopeError::Unwrap));
    assert_eq!(Envelope::open(&o, &ck, &e).unwrap(), b"consent");
}

#[test]
fn a_missing_generation_is_named() {
    let client = ObjectId::random();
    let new = ClientKey::generate(client, 2).unwrap();
    let old = ClientKey::generate(client, 1).unwrap();
    let o = obj(Kind::PhotoMeta);
    let e = Envelope::seal(o, &new, b"meta").unwrap();
    assert_eq!(
        Envelope::open(&o, &ring(&[], std::slice::from_ref(&old), client), &e),
        Err(EnvelopeError::NoClientKey(2))
    );
    assert_eq!(
        Envelope::open(&o, &ring(&[], &[old, new], client), &e).unwrap(),
        b"meta"
    );
}

#[test]
fn streams_seal_under_a_client_key_and_rewrap_keeps_the_kind_of_key() {
    let client = ObjectId::random();
    let g1 = ClientKey::generate(client, 1).unwrap();
    let g2 = ClientKey::generate(client, 2).unwrap();
    let tk = TenantKey::generate(1).unwrap();
    let o = obj(Kind::PhotoContent);
    let body = vec![7u8; 5000];
    let e = Envelope::seal_parts(o, &g1, &[&body], 1024).unwrap();
    let h = Header::parse(&e).unwrap();
    // Re-wrapping a client envelope under a tenant key is refused: the format stays.
    assert_eq!(
        h.rewrap(&g1, &tk).map(|_| ()),
        Err(EnvelopeError::KeyKind(FORMAT_V3))
    );
    let moved = h.rewrap(&g1, &g2).unwrap();
    let mut e2 = moved.to_bytes().to_vec();
    e2.extend_from_slice(&e[HEADER_LEN..]);
    assert_eq!(
        e2[HEADER_LEN..],
        e[HEADER_LEN..],
        "the body is not re-encrypted"
    );
    assert_eq!(Envelope::open(&o, &g2, &e2).unwrap(), body);
    // And a tenant-key envelope cannot be moved under a client key.
    let t = Envelope::seal(o, &tk, b"x").unwrap();
    let th = Header::parse(&t).unwrap();
    assert_eq!(
        th.rewrap(&tk, &g1).map(|_| ()),
        Err(EnvelopeError::KeyKind(FORMAT_V2))
    );
}

#[test]
fn older_formats_still_open_with_a_client_ring() {
    // A client's records written before format 3 (format 2 under the tenant key) open with
    // the ring a reader now builds for that client.
    let client = ObjectId::random();
    let tk = [TenantKey::generate(4).unwrap()];
    let o = obj(Kind::Note);
    let e = Envelope::seal_note(o, NoteState::Signed, &tk[0], b"old note").unwrap();
    assert_eq!(Header::parse(&e).unwrap().format, FORMAT_V2);
    let ck = [ClientKey::generate(client, 1).unwrap()];
    assert_eq!(
        Envelope::open(&o, &ring(&tk, &ck, client), &e).unwrap(),
        b"old note"
    );
}
