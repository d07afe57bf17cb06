use proptest::prelude::*;

use super::*;
use crate::keys::TenantKey;

const CS: u32 = 1024;

pub(super) fn obj(kind: Kind) -> ObjectRef {
    ObjectRef {
        tenant: TenantId::random(),
        object: ObjectId::random(),
        version: VersionId::random(),
        kind,
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn sealed(len: usize) -> (ObjectRef, TenantKey, Vec<u8>, Vec<u8>) {
    let o = obj(Kind::PhotoContent);
    let k = TenantKey::generate(1).unwrap();
    let p = data(len);
    let e = Envelope::seal_parts(o, &k, &[&p], CS).unwrap();
    (o, k, p, e)
}

#[test]
fn round_trips_at_chunk_boundaries() {
    for len in [0, 1, 1023, 1024, 1025, 2048, 3 * 1024 + 5] {
        let (o, k, p, e) = sealed(len);
        assert_eq!(Envelope::open(&o, &k, &e).unwrap(), p, "len {len}");
        let layout = Layout::for_plaintext(len as u64, CS);
        assert_eq!(e.len() as u64, HEADER_LEN as u64 + layout.body_len);
    }
}

#[test]
fn parts_are_concatenated() {
    let o = obj(Kind::PhotoContent);
    let k = TenantKey::generate(3).unwrap();
    let (a, b) = (data(1500), data(2600));
    let e = Envelope::seal_parts(o, &k, &[&a, &b, &[]], CS).unwrap();
    let mut joined = a.clone();
    joined.extend_from_slice(&b);
    assert_eq!(Envelope::open(&o, &k, &e).unwrap(), joined);
}

#[test]
fn same_plaintext_never_gives_same_ciphertext() {
    let o = obj(Kind::Note);
    let k = TenantKey::generate(1).unwrap();
    let a = Envelope::seal_note(o, NoteState::Draft, &k, b"hello").unwrap();
    let b = Envelope::seal_note(o, NoteState::Draft, &k, b"hello").unwrap();
    assert_ne!(a, b, "a fresh content key per seal");
}

/// A format-1 envelope as the code before format 2 wrote it (byte 4 = 1, bytes 6..8 zero).
fn seal_v1(object: ObjectRef, key: &TenantKey, plaintext: &[u8]) -> Vec<u8> {
    let cek = ContentKey::generate().unwrap();
    let mut header = Header {
        format: FORMAT_V1,
        object,
        epoch: key.epoch,
        chunk_size: CS,
        note: None,
        wrap_nonce: [0; NONCE_LEN],
        wrapped_cek: [0; WRAPPED_LEN],
    };
    header.wrap(&cek, key.into()).unwrap();
    let mut sealer = ChunkSealer::new(&cek, header.identity()).unwrap();
    let layout = Layout::for_plaintext(plaintext.len() as u64, CS);
    let mut out = header.to_bytes().to_vec();
    let mut at = 0usize;
    for index in 0..layout.chunks {
        let r = layout.chunk_range(index).unwrap();
        let n = (r.end - r.start) as usize - TAG_LEN;
        let start = out.len();
        out.extend_from_slice(&plaintext[at..at + n]);
        at += n;
        let tag = sealer
            .seal_next_detached(&mut out[start..], layout.is_last(index))
            .unwrap();
        out.extend_from_slice(&tag);
    }
    out
}

#[test]
fn format_one_envelopes_stay_readable() {
    let k = TenantKey::generate(4).unwrap();
    for kind in Kind::ALL {
        let o = obj(kind);
        let p = data(2500);
        let e = seal_v1(o, &k, &p);
        assert_eq!(e[4], FORMAT_V1);
        let h = Header::parse(&e).unwrap();
        assert_eq!((h.format, h.note), (FORMAT_V1, None));
        assert_eq!(Envelope::open(&o, &k, &e).unwrap(), p, "{kind:?}");
        // A rotation keeps the format (and so the AAD) of what it re-wraps.
        let k2 = TenantKey::generate(5).unwrap();
        let mut r = h.rewrap(&k, &k2).unwrap().to_bytes().to_vec();
        r.extend_from_slice(&e[HEADER_LEN..]);
        assert_eq!(Envelope::open(&o, &k2, &r).unwrap(), p);
    }
}

#[test]
fn a_note_states_its_state_and_nothing_else_does() {
    let k = TenantKey::generate(1).unwrap();
    for state in [NoteState::Draft, NoteState::Signed, NoteState::Addendum] {
        let o = obj(Kind::Note);
        let e = Envelope::seal_note(o, state, &k, b"{}").unwrap();
        assert_eq!((e[4], e[6], e[7]), (FORMAT_V2, state as u8, 0));
        let h = Header::parse(&e).unwrap();
        assert_eq!(h.note, Some(state));
        let (opened, plain) = Envelope::open_with_header(&o, &k, &e).unwrap();
        assert_eq!((opened.note, plain.as_slice()), (Some(state), &b"{}"[..]));
        let k2 = TenantKey::generate(2).unwrap();
        assert_eq!(h.rewrap(&k, &k2).unwrap().note, Some(state));
    }
    // A note must state one; no other kind may.
    assert_eq!(
        Envelope::seal(obj(Kind::Note), &k, b"{}"),
        Err(EnvelopeError::NoteState(0))
    );
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Note) {
        assert_eq!(
            Envelope::seal_stated(obj(kind), Some(NoteState::Draft), &k, b"x"),
            Err(EnvelopeError::NoteState(1))
        );
        let e = Envelope::seal(obj(kind), &k, b"x").unwrap();
        assert_eq!((e[4], e[6]), (FORMAT_V2, 0));
        let mut t = e.clone();
        t[6] = NoteState::Signed as u8;
        assert_eq!(Header::parse(&t), Err(EnvelopeError::NoteState(2)));
    }
    // Unknown states, the reserved byte and unknown formats are refused by the parser.
    let e = Envelope::seal_note(obj(Kind::Note), NoteState::Draft, &k, b"{}").unwrap();
    for (at, value, err) in [
        (6, 0, EnvelopeError::NoteState(0)),
        (6, 4, EnvelopeError::NoteState(4)),
        (7, 1, EnvelopeError::UnsupportedFlags(1)),
        (4, 4, EnvelopeError::UnsupportedFormat(4)),
    ] {
        let mut t = e.clone();
        t[at] = value;
        assert_eq!(Header::parse(&t), Err(err), "byte {at} = {value}");
    }
}

#[test]
fn the_note_state_is_authenticated() {
    // A draft re-labelled as signed (or the reverse) no longer opens: the state byte is in the
    // AAD of the key wrap and of every chunk.
    let k = TenantKey::generate(1).unwrap();
    let o = obj(Kind::Note);
    let e = Envelope::seal_note(o, NoteState::Signed, &k, b"signed text").unwrap();
    for forged in [NoteState::Draft, NoteState::Addendum] {
        let mut t = e.clone();
        t[6] = forged as u8;
        assert_eq!(Header::parse(&t).unwrap().note, Some(forged));
        assert_eq!(Envelope::open(&o, &k, &t), Err(EnvelopeError::Unwrap));
    }
    // And a format-2 note cannot pass as format 1 (the format byte is bound too).
    let mut t = e.clone();
    t[4] = FORMAT_V1;
    t[6] = 0;
    assert_eq!(Envelope::open(&o, &k, &t), Err(EnvelopeError::Unwrap));
}

#[test]
fn replay_as_another_object_is_refused() {
    let (o, k, _, e) = sealed(100);
    for other in [
        ObjectRef {
            object: ObjectId::random(),
            ..o
        },
        ObjectRef {
            version: VersionId::random(),
            ..o
        },
        ObjectRef {
            tenant: TenantId::random(),
            ..o
        },
        ObjectRef {
            kind: Kind::Note,
            ..o
        },
    ] {
        assert_eq!(Envelope::open(&other, &k, &e), Err(EnvelopeError::Mismatch));
    }
}

#[test]
fn relabelled_header_fails_authentication() {
    // An attacker rewrites the identity in the header to match the slot they replay it into.
    let (o, k, _, mut e) = sealed(100);
    let target = ObjectId::random();
    e[24..40].copy_from_slice(target.as_bytes());
    let expected = ObjectRef {
        object: target,
        ..o
    };
    assert_eq!(
        Envelope::open(&expected, &k, &e),
        Err(EnvelopeError::Unwrap)
    );
    // Relabelling the kind too.
    let (o, k, _, mut e) = sealed(100);
    e[5] = Kind::Thumbnail as u8;
    let expected = ObjectRef {
        kind: Kind::Thumbnail,
        ..o
    };
    assert_eq!(
        Envelope::open(&expected, &k, &e),
        Err(EnvelopeError::Unwrap)
    );
}

#[test]
fn wrong_or_missing_tenant_key() {
    let (o, _, _, e) = sealed(10);
    assert_eq!(
        Envelope::open(&o, &TenantKey::generate(1).unwrap(), &e),
        Err(EnvelopeError::Unwrap)
    );
    assert_eq!(
        Envelope::open(&o, &TenantKey::generate(2).unwrap(), &e),
        Err(EnvelopeError::NoKeyForEpoch(1))
    );
}

#[test]
fn header_errors_are_typed() {
    let (o, k, _, e) = sealed(10);
    assert_eq!(
        Envelope::open(&o, &k, &e[..50]),
        Err(EnvelopeError::TooShort)
    );
    let mut bad = e.clone();
    bad[0] = b'X';
    assert_eq!(Envelope::open(&o, &k, &bad), Err(EnvelopeError::BadMagic));
    let mut bad = e.clone();
    bad[4] = 9;
    assert_eq!(
        Envelope::open(&o, &k, &bad),
        Err(EnvelopeError::UnsupportedFormat(9))
    );
    let mut bad = e.clone();
    bad[5] = 200;
    assert_eq!(
        Envelope::open(&o, &k, &bad),
        Err(EnvelopeError::UnknownKind(200))
    );
}

#[test]
fn chunk_reorder_and_swap_are_detected() {
    let (o, k, _, e) = sealed(4 * 1024 + 10);
    let sealed_chunk = CS as usize + TAG_LEN;
    let chunk = |i: usize| HEADER_LEN + i * sealed_chunk..HEADER_LEN + (i + 1) * sealed_chunk;
    // Swap chunks 0 and 1.
    let mut r = e.clone();
    let (c0, c1) = (e[chunk(0)].to_vec(), e[chunk(1)].to_vec());
    r[chunk(0)].copy_from_slice(&c1);
    r[chunk(1)].copy_from_slice(&c0);
    assert!(matches!(
        Envelope::open(&o, &k, &r),
        Err(EnvelopeError::Stream(StreamError::ChunkAuth { index: 0 }))
    ));
    // Swap in a chunk from another envelope of the same object and tenant key.
    let other = Envelope::seal_parts(o, &k, &[&data(4 * 1024 + 10)], CS).unwrap();
    let mut r = e.clone();
    r[chunk(2)].copy_from_slice(&other[chunk(2)]);
    assert!(Envelope::open(&o, &k, &r).is_err());
}

#[test]
fn truncation_at_chunk_boundary_and_appending_are_detected() {
    let (o, k, _, e) = sealed(4 * 1024 + 10);
    let sealed_chunk = CS as usize + TAG_LEN;
    for n in 1..=4 {
        let cut = &e[..HEADER_LEN + n * sealed_chunk];
        assert!(Envelope::open(&o, &k, cut).is_err(), "cut after {n} chunks");
    }
    let mut longer = e.clone();
    longer.extend_from_slice(&[0u8; 32]);
    assert!(Envelope::open(&o, &k, &longer).is_err());
    // Exactly-full last chunk followed by an appended empty final chunk tag.
    let (o, k, _, e) = sealed(2 * 1024);
    let mut longer = e.clone();
    longer.extend_from_slice(&[0u8; TAG_LEN]);
    assert!(Envelope::open(&o, &k, &longer).is_err());
}

#[test]
fn random_access_to_one_chunk() {
    let (o, k, p, e) = sealed(5 * 1024 + 100);
    let header = Header::parse(&e).unwrap();
    let opener = header
        .opener(&o, &k, (e.len() - HEADER_LEN) as u64)
        .unwrap();
    for index in [3u64, 0, 5] {
        let r = opener.layout().chunk_range(index).unwrap();
        let mut buf = e[HEADER_LEN + r.start as usize..HEADER_LEN + r.end as usize].to_vec();
        let plain = opener.open(index, &mut buf).unwrap();
        let start = index as usize * 1024;
        assert_eq!(plain, &p[start..(start + 1024).min(p.len())]);
    }
    // Asking for chunk 3 with chunk 4's bytes fails.
    let r = opener.layout().chunk_range(4).unwrap();
    let mut buf = e[HEADER_LEN + r.start as usize..HEADER_LEN + r.end as usize].to_vec();
    assert!(opener.open(3, &mut buf).is_err());
}

#[test]
fn rotation_rewraps_header_only() {
    let (o, k1, p, e) = sealed(3000);
    let k2 = TenantKey::generate(2).unwrap();
    let header = Header::parse(&e).unwrap();
    let new_header = header.rewrap(&k1, &k2).unwrap();
    let mut rotated = new_header.to_bytes().to_vec();
    rotated.extend_from_slice(&e[HEADER_LEN..]);
    assert_eq!(&rotated[HEADER_LEN..], &e[HEADER_LEN..], "body untouched");
    assert_eq!(Envelope::open(&o, &k2, &rotated).unwrap(), p);
    assert_eq!(
        Envelope::open(&o, &k1, &rotated),
        Err(EnvelopeError::NoKeyForEpoch(2))
    );
    // A forged header claiming epoch 1 with the new wrap does not open under key 1.
    let mut forged = rotated.clone();
    forged[56..60].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(Envelope::open(&o, &k1, &forged), Err(EnvelopeError::Unwrap));
}

#[test]
fn keyring_picks_epoch() {
    let (o, k1, p, e) = sealed(10);
    let ring = vec![TenantKey::generate(7).unwrap(), k1.clone()];
    assert_eq!(Envelope::open(&o, &ring, &e).unwrap(), p);
}

#[test]
fn layout_rejects_impossible_lengths() {
    assert_eq!(Layout::for_body(0, CS), Err(StreamError::BadLength));
    assert_eq!(Layout::for_body(15, CS), Err(StreamError::BadLength));
    assert!(Layout::for_body(16, CS).is_ok());
    assert_eq!(Layout::for_body(1040 + 5, CS), Err(StreamError::BadLength));
    assert_eq!(
        Layout::for_body(100, 16),
        Err(StreamError::BadLength),
        "chunk too small"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bit_flip_is_rejected(len in 0usize..5000, pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (o, k, _, e) = sealed(len);
        let mut t = e.clone();
        let i = pos.index(t.len());
        t[i] ^= 1 << bit;
        prop_assert!(Envelope::open(&o, &k, &t).is_err());
    }

    #[test]
    fn any_truncation_is_rejected(len in 0usize..5000, cut in any::<prop::sample::Index>()) {
        let (o, k, _, e) = sealed(len);
        let n = cut.index(e.len());
        prop_assert!(Envelope::open(&o, &k, &e[..n]).is_err());
    }

    #[test]
    fn any_appended_bytes_are_rejected(len in 0usize..5000, extra in prop::collection::vec(any::<u8>(), 1..1100)) {
        let (o, k, _, e) = sealed(len);
        let mut t = e.clone();
        t.extend_from_slice(&extra);
        prop_assert!(Envelope::open(&o, &k, &t).is_err());
    }

    #[test]
    fn any_chunk_permutation_is_rejected(n_chunks in 2usize..6, tail in 1usize..1024, seed in any::<u64>()) {
        let (o, k, _, e) = sealed((n_chunks - 1) * 1024 + tail);
        let sc = CS as usize + TAG_LEN;
        let chunks: Vec<Vec<u8>> = e[HEADER_LEN..].chunks(sc).map(<[u8]>::to_vec).collect();
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        // A deterministic non-identity permutation from the seed.
        let a = (seed as usize) % order.len();
        let b = (a + 1 + (seed as usize / 7) % (order.len() - 1)) % order.len();
        order.swap(a, b);
        let mut t = e[..HEADER_LEN].to_vec();
        for i in order { t.extend_from_slice(&chunks[i]); }
        prop_assert!(Envelope::open(&o, &k, &t).is_err());
    }

    #[test]
    fn round_trip(p in prop::collection::vec(any::<u8>(), 0..6000)) {
        let o = obj(Kind::Note);
        let k = TenantKey::generate(1).unwrap();
        let e = Envelope::seal_parts_stated(o, Some(NoteState::Signed), &k, &[&p], CS).unwrap();
        prop_assert_eq!(Envelope::open(&o, &k, &e).unwrap(), p);
    }
}
