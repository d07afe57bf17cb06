//! The archive file format: a clear header, then the record stream sealed in AES-256-GCM frames.
//!
//! ```text
//! header  = "WARDBAK" 0x01 | archive id (16) | tenant id (16) | created_at_ms (u64 BE)
//!           | key check (32)                                        — 80 bytes, in clear
//! frame*  = len_and_flag (u32 BE: bit 31 = final, bits 0..30 = ciphertext length)
//!           | AES-256-GCM(frame key, nonce = 0^3 | counter (u64 BE) | final (u8),
//!                         aad = the 80 header bytes, plaintext ≤ 64 KiB) ‖ tag
//! ```
//!
//! This is the STREAM construction the envelope body uses (ward-proto `stream`): the counter
//! in the nonce detects reordered, dropped or repeated frames, the final flag detects
//! truncation at a frame boundary (no final frame) and appended data (bytes after it), and the
//! header is bound into every frame as associated data, so it cannot be swapped either.
//!
//! Keys: the operator's 32-byte archive key is never used directly. HKDF-SHA256 with the
//! archive's random id as salt derives a frame key, a key for sealing the tenant keys inside
//! the records, and a key check value stored in the header (so a wrong archive key is named as
//! such instead of as tampering). A fresh id per archive means counter nonces never repeat
//! under one frame key, however often the same archive key is used.
//!
//! Inside the frames is a sequence of records: `meta_len (u32 BE) | meta (JSON) | data_len
//! (u64 BE) | data` (see [`super::Record`]).

use std::io::{Read, Write};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ward_proto::{SymmetricKey, TenantId};
use zeroize::Zeroizing;

use super::BackupError;

/// One record as read: its meta and its data bytes.
pub(super) type RawRecord = (Vec<u8>, Vec<u8>);

/// First bytes of every archive (format version 1).
pub const MAGIC: &[u8; 8] = b"WARDBAK\x01";
/// Length of the clear header.
pub const HEADER_LEN: usize = 8 + 16 + 16 + 8 + 32;
/// Length of an archive key.
pub const ARCHIVE_KEY_LEN: usize = 32;
/// Plaintext bytes per frame.
pub const FRAME_LEN: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const FINAL: u32 = 1 << 31;
/// Largest meta part of one record.
const MAX_META: usize = 16 * 1024 * 1024;
/// Largest data part of one record (a photo envelope is far smaller).
const MAX_DATA: u64 = 1024 * 1024 * 1024;

/// The operator's archive key (32 random bytes), wiped from memory on drop.
#[derive(Clone)]
pub struct ArchiveKey(Zeroizing<[u8; ARCHIVE_KEY_LEN]>);

impl std::fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArchiveKey(<redacted>)")
    }
}

impl ArchiveKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, BackupError> {
        let mut k = Zeroizing::new([0u8; ARCHIVE_KEY_LEN]);
        ward_proto::keys::fill_random(k.as_mut()).map_err(|_| BackupError::Crypto)?;
        Ok(Self(k))
    }

    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; ARCHIVE_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key as 64 hex digits (the key file's content).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// Parses a key file's content: 64 hex digits (surrounding whitespace ignored) or 32 raw
    /// bytes.
    pub fn parse(file: &[u8]) -> Result<Self, BackupError> {
        let bad = || BackupError::Key("the key file must hold 64 hex digits".into());
        if file.len() == ARCHIVE_KEY_LEN {
            let mut k = Zeroizing::new([0u8; ARCHIVE_KEY_LEN]);
            k.copy_from_slice(file);
            return Ok(Self(k));
        }
        let text = std::str::from_utf8(file).map_err(|_| bad())?.trim();
        let raw = Zeroizing::new(hex::decode(text).map_err(|_| bad())?);
        let mut k = Zeroizing::new([0u8; ARCHIVE_KEY_LEN]);
        if raw.len() != ARCHIVE_KEY_LEN {
            return Err(bad());
        }
        k.copy_from_slice(&raw);
        Ok(Self(k))
    }

    fn derive(&self, archive_id: &[u8; 16], info: &[u8]) -> Result<[u8; 32], BackupError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, archive_id).extract(self.0.as_ref());
        let mut out = [0u8; 32];
        prk.expand(&[info], hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out))
            .map_err(|_| BackupError::Crypto)?;
        Ok(out)
    }
}

/// The keys of one archive, derived from the archive key and the archive id.
pub(super) struct ArchiveKeys {
    frames: LessSafeKey,
    /// Seals tenant keys and the wipe seed inside records.
    pub(super) records: SymmetricKey,
    check: [u8; 32],
}

impl ArchiveKeys {
    pub(super) fn derive(key: &ArchiveKey, archive_id: &[u8; 16]) -> Result<Self, BackupError> {
        let frames = Zeroizing::new(key.derive(archive_id, b"ward backup v1 frames")?);
        let records = key.derive(archive_id, b"ward backup v1 records")?;
        let check = key.derive(archive_id, b"ward backup v1 key check")?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, frames.as_ref()).map_err(|_| BackupError::Crypto)?;
        Ok(Self {
            frames: LessSafeKey::new(unbound),
            records: SymmetricKey::from_bytes(records),
            check,
        })
    }
}

/// The clear header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Random per archive.
    pub archive_id: [u8; 16],
    /// The tenant it holds.
    pub tenant: TenantId,
    /// When it was written.
    pub created_at_ms: i64,
}

impl Header {
    fn to_bytes(self, check: &[u8; 32]) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..24].copy_from_slice(&self.archive_id);
        b[24..40].copy_from_slice(self.tenant.as_bytes());
        b[40..48].copy_from_slice(&self.created_at_ms.to_be_bytes());
        b[48..].copy_from_slice(check);
        b
    }

    /// Reads and parses the header (without checking the key).
    pub fn read(r: &mut impl Read) -> Result<([u8; HEADER_LEN], Self), BackupError> {
        let mut b = [0u8; HEADER_LEN];
        read_exact_or(r, &mut b, BackupError::NotAnArchive)?;
        if &b[..8] != MAGIC {
            return Err(BackupError::NotAnArchive);
        }
        let mut archive_id = [0u8; 16];
        archive_id.copy_from_slice(&b[8..24]);
        let mut tenant = [0u8; 16];
        tenant.copy_from_slice(&b[24..40]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&b[40..48]);
        Ok((
            b,
            Self {
                archive_id,
                tenant: TenantId::from_bytes(tenant),
                created_at_ms: i64::from_be_bytes(at),
            },
        ))
    }
}

fn read_exact_or(r: &mut impl Read, buf: &mut [u8], eof: BackupError) -> Result<(), BackupError> {
    match r.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(eof),
        Err(e) => Err(BackupError::Io(e)),
    }
}

fn nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Writes the header, then seals everything written into frames. [`finish`](Self::finish)
/// seals the final frame; an archive without it reads as truncated.
pub(super) struct ArchiveWriter<W: Write> {
    inner: W,
    keys: ArchiveKeys,
    aad: [u8; HEADER_LEN],
    counter: u64,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> ArchiveWriter<W> {
    pub(super) fn new(mut inner: W, key: &ArchiveKey, header: Header) -> Result<Self, BackupError> {
        let keys = ArchiveKeys::derive(key, &header.archive_id)?;
        let aad = header.to_bytes(&keys.check);
        inner.write_all(&aad)?;
        Ok(Self {
            inner,
            keys,
            aad,
            counter: 0,
            buf: Vec::with_capacity(FRAME_LEN + TAG_LEN),
            written: HEADER_LEN as u64,
        })
    }

    pub(super) fn keys(&self) -> &ArchiveKeys {
        &self.keys
    }

    pub(super) fn write_all(&mut self, mut data: &[u8]) -> Result<(), BackupError> {
        while !data.is_empty() {
            // A full frame is sealed only once more data arrives, so the final frame is
            // never an empty one after a full one.
            if self.buf.len() == FRAME_LEN {
                self.seal(false)?;
            }
            let n = (FRAME_LEN - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    fn seal(&mut self, last: bool) -> Result<(), BackupError> {
        self.keys
            .frames
            .seal_in_place_append_tag(
                nonce(self.counter, last),
                Aad::from(&self.aad[..]),
                &mut self.buf,
            )
            .map_err(|_| BackupError::Crypto)?;
        let len = u32::try_from(self.buf.len()).map_err(|_| BackupError::Crypto)?;
        let word = if last { len | FINAL } else { len };
        self.inner.write_all(&word.to_be_bytes())?;
        self.inner.write_all(&self.buf)?;
        self.written += 4 + self.buf.len() as u64;
        self.counter += 1;
        self.buf.clear();
        Ok(())
    }

    /// Seals the final frame and flushes; returns the archive's size in bytes.
    pub(super) fn finish(mut self) -> Result<u64, BackupError> {
        self.seal(true)?;
        self.inner.flush()?;
        Ok(self.written)
    }
}

/// Opens frames in order and hands out their plaintext.
pub(super) struct ArchiveReader<R: Read> {
    inner: R,
    keys: ArchiveKeys,
    aad: [u8; HEADER_LEN],
    /// The header.
    pub(super) header: Header,
    counter: u64,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> ArchiveReader<R> {
    /// Reads the header and checks the archive key against it.
    pub(super) fn open(mut inner: R, key: &ArchiveKey) -> Result<Self, BackupError> {
        let (aad, header) = Header::read(&mut inner)?;
        let keys = ArchiveKeys::derive(key, &header.archive_id)?;
        // Compared without an early exit (the check value depends on the key).
        let diff = aad[48..]
            .iter()
            .zip(keys.check.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(BackupError::WrongKey);
        }
        Ok(Self {
            inner,
            keys,
            aad,
            header,
            counter: 0,
            buf: Vec::new(),
            pos: 0,
            done: false,
        })
    }

    pub(super) fn keys(&self) -> &ArchiveKeys {
        &self.keys
    }

    /// Opens the next frame; `false` once the final frame has been consumed and nothing
    /// follows it.
    fn next_frame(&mut self) -> Result<bool, BackupError> {
        if self.done {
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(false),
                _ => Err(BackupError::TrailingData),
            };
        }
        let mut word = [0u8; 4];
        read_exact_or(&mut self.inner, &mut word, BackupError::Truncated)?;
        let word = u32::from_be_bytes(word);
        let last = word & FINAL != 0;
        let len = (word & !FINAL) as usize;
        if !(TAG_LEN..=FRAME_LEN + TAG_LEN).contains(&len) {
            return Err(BackupError::Auth {
                frame: self.counter,
            });
        }
        self.buf.resize(len, 0);
        read_exact_or(&mut self.inner, &mut self.buf, BackupError::Truncated)?;
        let plain_len = self
            .keys
            .frames
            .open_in_place(
                nonce(self.counter, last),
                Aad::from(&self.aad[..]),
                &mut self.buf,
            )
            .map_err(|_| BackupError::Auth {
                frame: self.counter,
            })?
            .len();
        self.buf.truncate(plain_len);
        self.pos = 0;
        self.counter += 1;
        self.done = last;
        Ok(true)
    }

    /// Fills `out` completely; `Ok(false)` if the stream ended cleanly before its first byte.
    pub(super) fn read_exact(&mut self, out: &mut [u8]) -> Result<bool, BackupError> {
        let mut filled = 0;
        while filled < out.len() {
            if self.pos == self.buf.len() {
                if !self.next_frame()? {
                    return if filled == 0 {
                        Ok(false)
                    } else {
                        Err(BackupError::Malformed("a record is cut short".into()))
                    };
                }
                continue;
            }
            let n = (self.buf.len() - self.pos).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            filled += n;
        }
        Ok(true)
    }

    /// The next record's raw meta and data, or `None` at the end of the stream.
    pub(super) fn next_record(&mut self) -> Result<Option<RawRecord>, BackupError> {
        let mut len = [0u8; 4];
        if !self.read_exact(&mut len)? {
            return Ok(None);
        }
        let meta_len = u32::from_be_bytes(len) as usize;
        if meta_len > MAX_META {
            return Err(BackupError::Malformed("record metadata too large".into()));
        }
        let mut meta = vec![0u8; meta_len];
        let mut data_len = [0u8; 8];
        if !(self.read_exact(&mut meta)? && self.read_exact(&mut data_len)?) {
            return Err(BackupError::Malformed("a record is cut short".into()));
        }
        let data_len = u64::from_be_bytes(data_len);
        if data_len > MAX_DATA {
            return Err(BackupError::Malformed("record data too large".into()));
        }
        let mut data = vec![0u8; data_len as usize];
        if !data.is_empty() && !self.read_exact(&mut data)? {
            return Err(BackupError::Malformed("a record is cut short".into()));
        }
        Ok(Some((meta, data)))
    }
}

/// The bytes of a record before its data (`meta_len | meta | data_len`).
pub(super) fn record_head(meta: &[u8], data: &[u8]) -> Result<Vec<u8>, BackupError> {
    let meta_len = u32::try_from(meta.len())
        .ok()
        .filter(|l| *l as usize <= MAX_META)
        .ok_or_else(|| BackupError::Malformed("record metadata too large".into()))?;
    let mut out = Vec::with_capacity(12 + meta.len());
    out.extend_from_slice(&meta_len.to_be_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(&(data.len() as u64).to_be_bytes());
    Ok(out)
}
