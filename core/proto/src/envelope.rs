//! The versioned object envelope: the single ciphertext format for every clinical object.
//!
//! An envelope is a fixed 124-byte header followed by a chunked AEAD body ([`crate::stream`]).
//! The header names what the ciphertext is (tenant, object, version, kind) and carries the
//! object version's fresh content key (CEK) wrapped under the tenant key of a given epoch.
//! The identity prefix is bound as associated data into the CEK wrap and into every chunk, so
//! an envelope cannot be replayed as another object, tenant, version or kind. The key epoch and
//! the wrapped CEK are *not* bound into the chunks: rotating the tenant key rewrites the header
//! only ([`Header::rewrap`]) and never re-encrypts a photo.
//!
//! ```text
//! offset len  field
//!      0   4  magic "WARD"
//!      4   1  format version (1, 2 or 3)
//!      5   1  kind
//!      6   1  note state (format 2: 1 draft, 2 signed, 3 addendum for notes; 0 otherwise)
//!      7   1  reserved (0)
//!      8  16  tenant id
//!     24  16  object id
//!     40  16  version id          -- bytes 0..56: identity, AAD of every chunk
//!     56   4  tenant key epoch; format 3: client key generation (big endian)
//!     60   4  chunk size (big endian)   -- bytes 0..64: AAD of the CEK wrap
//!     64  12  CEK wrap nonce (random)
//!     76  48  wrapped CEK (32 + 16 tag)
//!    124   …  chunks: ciphertext + 16-byte tag each
//! ```
//!
//! Format 3 (ADR 0015) is format 2 with the content key wrapped under a **client key** instead
//! of the tenant key: bytes 56..60 hold the client key's generation, and the client id (16
//! bytes, which every reader knows from the record it opens) is appended to the wrap's
//! associated data, so a content key wrapped for one client can never be unwrapped as
//! another's. The chunks are sealed exactly as in formats 1 and 2. Every clinical kind of a
//! client is written in format 3; a client's identity record stays format 2 under the tenant
//! key (front desk reads it).
//!
//! Format 2 (written since the server locks signed notes, ADR 0013) differs from format 1 only
//! in byte 6: a note states whether it is a draft, a signed version or an addendum. The byte is
//! inside the identity prefix, so it is authenticated like the object id: the server can read
//! it without any key to refuse a new version over a signed note, and a reader that opens the
//! note checks that the stated state is the one the content says. Format 1 envelopes (every
//! byte 6..8 zero) stay readable forever.

use ring::aead::{Aad, NONCE_LEN, Nonce};
use zeroize::Zeroizing;

use crate::ids::{ObjectId, TenantId, VersionId};
use crate::keys::{ContentKey, KEY_LEN, RandomError, SymmetricKey, fill_random};
use crate::stream::{
    ChunkOpener, ChunkSealer, DEFAULT_CHUNK_SIZE, Layout, PartsReader, STREAM_AAD_LEN, StreamError,
    TAG_LEN,
};

/// Magic bytes that open every envelope.
pub const MAGIC: [u8; 4] = *b"WARD";
/// The first envelope format (no note state). Still read, no longer written.
pub const FORMAT_V1: u8 = 1;
/// The envelope format version this code writes: format 1 plus the note state in byte 6.
/// Readers keep accepting every older version.
pub const FORMAT_V2: u8 = 2;
/// Format 2 with the content key wrapped under a client key (ADR 0015): written for every
/// clinical kind of a client.
pub const FORMAT_V3: u8 = 3;
/// Length of the envelope header.
pub const HEADER_LEN: usize = 124;
const WRAP_AAD_LEN: usize = 64;
/// Format 3 appends the client id to the wrap's associated data.
const WRAP_AAD_MAX: usize = WRAP_AAD_LEN + 16;
const WRAPPED_LEN: usize = KEY_LEN + TAG_LEN;

/// What an envelope holds. The numeric values are part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A client (patient) record: identity and demographics.
    Client = 1,
    /// One version of a clinical note or addendum.
    Note = 2,
    /// A photo's metadata (caption, body area, consent reference).
    PhotoMeta = 3,
    /// A photo's image bytes.
    PhotoContent = 4,
    /// A photo's thumbnail image.
    Thumbnail = 5,
    /// A consent record.
    Consent = 6,
}

impl Kind {
    /// Every kind, for iteration in tests and schema checks.
    pub const ALL: [Kind; 6] = [
        Kind::Client,
        Kind::Note,
        Kind::PhotoMeta,
        Kind::PhotoContent,
        Kind::Thumbnail,
        Kind::Consent,
    ];

    /// Parses the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

/// Where a note version is in its life, stated in the authenticated header (format 2) so that
/// the server, which holds no key, can keep a signed note locked. The numeric values are part
/// of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum NoteState {
    /// An editable draft: later versions may follow.
    Draft = 1,
    /// A signed version: the note is locked, nothing may follow it.
    Signed = 2,
    /// An addendum to a signed note: a note of its own, written once and locked.
    Addendum = 3,
}

impl NoteState {
    /// Parses the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        [Self::Draft, Self::Signed, Self::Addendum]
            .into_iter()
            .find(|s| *s as u8 == v)
    }

    /// Whether a version in this state locks its note (no version may follow it).
    pub fn locks(self) -> bool {
        matches!(self, Self::Signed | Self::Addendum)
    }
}

/// The identity an envelope is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Logical object.
    pub object: ObjectId,
    /// Immutable version of that object.
    pub version: VersionId,
    /// What the content is.
    pub kind: Kind,
}

/// Errors from sealing or opening envelopes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Fewer bytes than a header.
    #[error("envelope is shorter than its header")]
    TooShort,
    /// Not an envelope at all.
    #[error("not a Ward envelope (bad magic)")]
    BadMagic,
    /// Written by a newer app version.
    #[error("unsupported envelope format version {0}")]
    UnsupportedFormat(u8),
    /// Unknown content kind.
    #[error("unknown envelope kind {0}")]
    UnknownKind(u8),
    /// Reserved flags set.
    #[error("unsupported envelope flags {0:#06x}")]
    UnsupportedFlags(u16),
    /// A note without a valid state, or another kind with one (format 2).
    #[error("a note envelope must state draft, signed or addendum, and no other kind may ({0})")]
    NoteState(u8),
    /// The envelope is valid but belongs to another object (replay or mix-up).
    #[error("envelope belongs to another object")]
    Mismatch,
    /// No tenant key of that epoch is available.
    #[error("no tenant key for epoch {0}")]
    NoKeyForEpoch(u32),
    /// A format-3 envelope, and this holder has no key of that generation for the client: the
    /// user may not read the client (or the key has not been released to this device yet).
    #[error("no key of generation {0} for this client")]
    NoClientKey(u32),
    /// A tenant key given for a format-3 envelope or a client key for an older one.
    #[error("a format-{0} envelope is wrapped under another kind of key")]
    KeyKind(u8),
    /// The content key did not unwrap: wrong tenant key, or a tampered header.
    #[error("content key failed to unwrap (wrong tenant key or tampered header)")]
    Unwrap,
    /// The body failed to open.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The OS random generator failed.
    #[error("random number generator failed")]
    Random,
}

impl From<RandomError> for EnvelopeError {
    fn from(_: RandomError) -> Self {
        EnvelopeError::Random
    }
}

/// A parsed envelope header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version it was written with.
    pub format: u8,
    /// The identity it is bound to.
    pub object: ObjectRef,
    /// Tenant key epoch that wraps the content key; in format 3 the client key's generation
    /// (see [`Header::client_generation`]).
    pub epoch: u32,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// A note's state (format 2); `None` for other kinds and for every format-1 envelope.
    pub note: Option<NoteState>,
    wrap_nonce: [u8; NONCE_LEN],
    wrapped_cek: [u8; WRAPPED_LEN],
}

impl Header {
    /// Parses (without decrypting) the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let h: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(EnvelopeError::TooShort)?;
        if h[0..4] != MAGIC {
            return Err(EnvelopeError::BadMagic);
        }
        let kind = Kind::from_u8(h[5]).ok_or(EnvelopeError::UnknownKind(h[5]))?;
        let note = match h[4] {
            FORMAT_V1 => {
                let flags = u16::from_be_bytes([h[6], h[7]]);
                if flags != 0 {
                    return Err(EnvelopeError::UnsupportedFlags(flags));
                }
                None
            }
            FORMAT_V2 | FORMAT_V3 => {
                if h[7] != 0 {
                    return Err(EnvelopeError::UnsupportedFlags(u16::from(h[7])));
                }
                stated(kind, h[6])?
            }
            other => return Err(EnvelopeError::UnsupportedFormat(other)),
        };
        let id16 = |at: usize| -> [u8; 16] {
            let mut a = [0u8; 16];
            a.copy_from_slice(&h[at..at + 16]);
            a
        };
        let mut wrap_nonce = [0u8; NONCE_LEN];
        wrap_nonce.copy_from_slice(&h[64..76]);
        let mut wrapped_cek = [0u8; WRAPPED_LEN];
        wrapped_cek.copy_from_slice(&h[76..124]);
        Ok(Self {
            format: h[4],
            object: ObjectRef {
                tenant: TenantId::from_bytes(id16(8)),
                object: ObjectId::from_bytes(id16(24)),
                version: VersionId::from_bytes(id16(40)),
                kind,
            },
            epoch: u32::from_be_bytes([h[56], h[57], h[58], h[59]]),
            chunk_size: u32::from_be_bytes([h[60], h[61], h[62], h[63]]),
            note,
            wrap_nonce,
            wrapped_cek,
        })
    }

    /// The header's wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..WRAP_AAD_LEN].copy_from_slice(&self.wrap_aad(None)[..WRAP_AAD_LEN]);
        h[64..76].copy_from_slice(&self.wrap_nonce);
        h[76..124].copy_from_slice(&self.wrapped_cek);
        h
    }

    fn identity(&self) -> [u8; STREAM_AAD_LEN] {
        let mut a = [0u8; STREAM_AAD_LEN];
        a[0..4].copy_from_slice(&MAGIC);
        a[4] = self.format;
        a[5] = self.object.kind as u8;
        // a[6]: the note state (format 2; zero otherwise); a[7]: reserved, zero.
        a[6] = self.note.map_or(0, |s| s as u8);
        a[8..24].copy_from_slice(self.object.tenant.as_bytes());
        a[24..40].copy_from_slice(self.object.object.as_bytes());
        a[40..56].copy_from_slice(self.object.version.as_bytes());
        a
    }

    /// The wrap's associated data: the first 64 header bytes, and in format 3 the client id.
    fn wrap_aad(&self, client: Option<crate::ids::ObjectId>) -> Vec<u8> {
        let mut a = Vec::with_capacity(WRAP_AAD_MAX);
        a.extend_from_slice(&self.identity());
        a.extend_from_slice(&self.epoch.to_be_bytes());
        a.extend_from_slice(&self.chunk_size.to_be_bytes());
        if let Some(c) = client {
            a.extend_from_slice(c.as_bytes());
        }
        a
    }

    /// The client key generation a format-3 envelope is wrapped under (`None` before format 3:
    /// those are wrapped under the tenant key of [`Header::epoch`]).
    pub fn client_generation(&self) -> Option<u32> {
        (self.format == FORMAT_V3).then_some(self.epoch)
    }

    /// A header for a new object version with a fresh content key wrapped under `key`.
    fn new_sealed(
        object: ObjectRef,
        note: Option<NoteState>,
        key: SealKey<'_>,
        chunk_size: u32,
    ) -> Result<(Self, ContentKey), EnvelopeError> {
        stated(object.kind, note.map_or(0, |s| s as u8))?;
        let cek = ContentKey::generate()?;
        let mut header = Self {
            format: key.format(),
            object,
            epoch: key.id(),
            chunk_size,
            note,
            wrap_nonce: [0; NONCE_LEN],
            wrapped_cek: [0; WRAPPED_LEN],
        };
        header.wrap(&cek, key)?;
        Ok((header, cek))
    }

    fn wrap(&mut self, cek: &ContentKey, wrapping: SealKey<'_>) -> Result<(), EnvelopeError> {
        if wrapping.format() != self.format.max(FORMAT_V2) {
            return Err(EnvelopeError::KeyKind(self.format));
        }
        self.epoch = wrapping.id();
        fill_random(&mut self.wrap_nonce)?;
        let mut buf = [0u8; WRAPPED_LEN];
        buf[..KEY_LEN].copy_from_slice(cek.0.expose_secret());
        let key = wrapping
            .secret()
            .aead()
            .map_err(|_| EnvelopeError::Unwrap)?;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(self.wrap_nonce),
                Aad::from(self.wrap_aad(wrapping.client())),
                &mut buf[..KEY_LEN],
            )
            .map_err(|_| EnvelopeError::Unwrap)?;
        buf[KEY_LEN..].copy_from_slice(tag.as_ref());
        self.wrapped_cek = buf;
        Ok(())
    }

    fn unwrap_cek(&self, keys: &(impl KeyRing + ?Sized)) -> Result<ContentKey, EnvelopeError> {
        let (secret, client) = if self.format == FORMAT_V3 {
            let k = keys
                .client_key(self.epoch)
                .ok_or(EnvelopeError::NoClientKey(self.epoch))?;
            (&k.key, Some(k.client))
        } else {
            let k = keys
                .key(self.epoch)
                .ok_or(EnvelopeError::NoKeyForEpoch(self.epoch))?;
            (&k.key, None)
        };
        let key = secret.aead().map_err(|_| EnvelopeError::Unwrap)?;
        let mut buf = Zeroizing::new(self.wrapped_cek);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(self.wrap_nonce),
                Aad::from(self.wrap_aad(client)),
                buf.as_mut(),
            )
            .map_err(|_| EnvelopeError::Unwrap)?;
        let cek = SymmetricKey::from_slice(plain).ok_or(EnvelopeError::Unwrap)?;
        Ok(ContentKey(cek))
    }

    /// Re-wraps the content key under another key of the same kind (a tenant key for formats
    /// 1 and 2, a client key of the same client for format 3). Only the header changes; the
    /// body stays byte-for-byte the same.
    pub fn rewrap<'k>(
        &self,
        old: &(impl KeyRing + ?Sized),
        new: impl Into<SealKey<'k>>,
    ) -> Result<Header, EnvelopeError> {
        let cek = self.unwrap_cek(old)?;
        let mut h = self.clone();
        h.wrap(&cek, new.into())?;
        Ok(h)
    }

    fn check(&self, expected: &ObjectRef) -> Result<(), EnvelopeError> {
        if &self.object == expected {
            Ok(())
        } else {
            Err(EnvelopeError::Mismatch)
        }
    }

    /// Starts opening the body that follows this header, after checking it is `expected`.
    pub fn opener(
        &self,
        expected: &ObjectRef,
        keys: &(impl KeyRing + ?Sized),
        body_len: u64,
    ) -> Result<ChunkOpener, EnvelopeError> {
        self.check(expected)?;
        let layout = Layout::for_body(body_len, self.chunk_size)?;
        let cek = self.unwrap_cek(keys)?;
        Ok(ChunkOpener::new(&cek, self.identity(), layout)?)
    }
}

/// The note state byte 6 of a format-2 header gives `kind`: a note must state one, no other
/// kind may.
fn stated(kind: Kind, byte: u8) -> Result<Option<NoteState>, EnvelopeError> {
    match (kind, NoteState::from_u8(byte)) {
        (Kind::Note, Some(s)) => Ok(Some(s)),
        (Kind::Note, None) => Err(EnvelopeError::NoteState(byte)),
        (_, _) if byte == 0 => Ok(None),
        _ => Err(EnvelopeError::NoteState(byte)),
    }
}

/// Starts a streamed envelope (photos): returns the header to write first and the sealer for
/// the chunks that follow it.
pub fn begin_stream<'k>(
    object: ObjectRef,
    key: impl Into<SealKey<'k>>,
    chunk_size: u32,
) -> Result<(Header, ChunkSealer), EnvelopeError> {
    begin_stream_stated(object, None, key.into(), chunk_size)
}

fn begin_stream_stated(
    object: ObjectRef,
    note: Option<NoteState>,
    key: SealKey<'_>,
    chunk_size: u32,
) -> Result<(Header, ChunkSealer), EnvelopeError> {
    let (header, cek) = Header::new_sealed(object, note, key, chunk_size)?;
    let sealer = ChunkSealer::new(&cek, header.identity())?;
    Ok((header, sealer))
}

/// In-memory sealing and opening, for small objects (notes, clients, thumbnails).
#[derive(Debug)]
pub struct Envelope;

impl Envelope {
    /// Seals `plaintext` as a new envelope for `object`, with a fresh content key. Notes state
    /// their state: seal them with [`Envelope::seal_note`].
    pub fn seal<'k>(
        object: ObjectRef,
        tenant_key: impl Into<SealKey<'k>>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        Self::seal_stated(object, None, tenant_key.into(), plaintext)
    }

    /// Seals one version of a note, stating `state` in the authenticated header.
    pub fn seal_note<'k>(
        object: ObjectRef,
        state: NoteState,
        tenant_key: impl Into<SealKey<'k>>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        Self::seal_stated(object, Some(state), tenant_key.into(), plaintext)
    }

    /// [`Envelope::seal`] or [`Envelope::seal_note`], by whether `note` is given.
    pub fn seal_stated<'k>(
        object: ObjectRef,
        note: Option<NoteState>,
        tenant_key: impl Into<SealKey<'k>>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        Self::seal_into(
            object,
            note,
            tenant_key.into(),
            &[plaintext],
            DEFAULT_CHUNK_SIZE,
            &mut out,
        )?;
        Ok(out)
    }

    /// Seals the concatenation of `parts` (no intermediate copy of the whole plaintext).
    pub fn seal_parts<'k>(
        object: ObjectRef,
        tenant_key: impl Into<SealKey<'k>>,
        parts: &[&[u8]],
        chunk_size: u32,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        Self::seal_parts_into(object, tenant_key.into(), parts, chunk_size, &mut out)?;
        Ok(out)
    }

    /// Like [`Envelope::seal_parts`], writing into `out` (cleared first) so a caller sealing
    /// many objects can reuse one allocation.
    pub fn seal_parts_into<'k>(
        object: ObjectRef,
        tenant_key: impl Into<SealKey<'k>>,
        parts: &[&[u8]],
        chunk_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), EnvelopeError> {
        Self::seal_into(object, None, tenant_key.into(), parts, chunk_size, out)
    }

    /// [`Envelope::seal_parts`] with a note state (see [`Envelope::seal_note`]).
    pub fn seal_parts_stated<'k>(
        object: ObjectRef,
        note: Option<NoteState>,
        tenant_key: impl Into<SealKey<'k>>,
        parts: &[&[u8]],
        chunk_size: u32,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        Self::seal_into(object, note, tenant_key.into(), parts, chunk_size, &mut out)?;
        Ok(out)
    }

    fn seal_into(
        object: ObjectRef,
        note: Option<NoteState>,
        tenant_key: SealKey<'_>,
        parts: &[&[u8]],
        chunk_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), EnvelopeError> {
        let (header, mut sealer) = begin_stream_stated(object, note, tenant_key, chunk_size)?;
        let mut reader = PartsReader::new(parts);
        let layout = Layout::for_plaintext(reader.total_len(), chunk_size);
        let body_len = usize::try_from(layout.body_len).map_err(|_| StreamError::BufferSize)?;
        out.clear();
        out.reserve(HEADER_LEN + body_len);
        out.extend_from_slice(&header.to_bytes());
        for index in 0..layout.chunks {
            let r = layout.chunk_range(index)?;
            let plain_len = (r.end - r.start) as usize - TAG_LEN;
            let start = out.len();
            reader.append(out, plain_len);
            let tag = sealer.seal_next_detached(&mut out[start..], layout.is_last(index))?;
            out.extend_from_slice(&tag);
        }
        Ok(())
    }

    /// Opens an in-memory envelope that must be `expected`, returning its plaintext.
    pub fn open(
        expected: &ObjectRef,
        keys: &(impl KeyRing + ?Sized),
        envelope: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        Self::open_with_header(expected, keys, envelope).map(|(_, plain)| plain)
    }

    /// [`Envelope::open`], returning the (authenticated) header too: a note's reader checks
    /// the stated [`NoteState`] against the content.
    pub fn open_with_header(
        expected: &ObjectRef,
        keys: &(impl KeyRing + ?Sized),
        envelope: &[u8],
    ) -> Result<(Header, Vec<u8>), EnvelopeError> {
        let header = Header::parse(envelope)?;
        let body = &envelope[HEADER_LEN..];
        let opener = header.opener(expected, keys, body.len() as u64)?;
        let layout = opener.layout();
        let mut plain = Vec::with_capacity(usize::try_from(layout.plaintext_len()).unwrap_or(0));
        let mut buf = Vec::new();
        for index in 0..layout.chunks {
            let r = layout.chunk_range(index)?;
            buf.clear();
            buf.extend_from_slice(&body[r.start as usize..r.end as usize]);
            plain.extend_from_slice(opener.open(index, &mut buf)?);
        }
        Ok((header, plain))
    }
}

mod keyring;
pub use keyring::{ClientRing, KeyRing, SealKey};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod client_tests;
