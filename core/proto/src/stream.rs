//! The chunked AEAD stream that carries every envelope body (notes and photos alike).
//!
//! Plaintext is cut into fixed-size chunks (64 KiB by default, see ADR 0002); each is sealed
//! with AES-256-GCM under the object version's own content key, with a nonce made of a 64-bit
//! chunk counter and a final-chunk flag (the STREAM construction of Hoang, Reyhanitabar, Rogaway
//! and Vizár, as also used by `age`). Reordered or swapped chunks fail because their counter is
//! wrong; truncation at a chunk boundary fails because the new last chunk was not sealed as
//! final; appended data fails because the final chunk is no longer last. Chunks have fixed
//! ciphertext size, so any chunk can be located and opened on its own (random access) and memory
//! use is one chunk, whatever the photo size.

use std::ops::Range;

use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce, Tag};

use crate::keys::ContentKey;

/// Authentication tag appended to every chunk.
pub const TAG_LEN: usize = 16;
/// Default plaintext bytes per chunk: 64 KiB (see ADR 0002 for the choice).
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest and largest chunk sizes a reader accepts (guards allocation on hostile headers).
pub const MIN_CHUNK_SIZE: u32 = 1024;
/// Largest chunk size a reader accepts.
pub const MAX_CHUNK_SIZE: u32 = 4 * 1024 * 1024;

/// Errors while opening a stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    /// A chunk failed authentication: tampered, reordered, swapped, or truncated.
    #[error("chunk {index} failed authentication")]
    ChunkAuth {
        /// Index of the failing chunk.
        index: u64,
    },
    /// The body length cannot be a valid sequence of chunks (cut inside a tag, or empty).
    #[error("stream body is truncated or has a malformed length")]
    BadLength,
    /// A chunk index past the end of the stream was requested.
    #[error("chunk {index} is out of range")]
    OutOfRange {
        /// The requested index.
        index: u64,
    },
    /// A caller handed a buffer of the wrong size for the chunk.
    #[error("internal: buffer of wrong size for chunk")]
    BufferSize,
    /// The crypto library refused the key (cannot happen for well-formed keys).
    #[error("internal: crypto key setup failed")]
    Key,
}

/// Length of the associated data bound into every chunk (the envelope's identity prefix).
pub const STREAM_AAD_LEN: usize = 56;

fn nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Geometry of a sealed stream: where each chunk sits in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Plaintext bytes per full chunk.
    pub chunk_size: u32,
    /// Number of chunks (at least one: an empty plaintext is one empty final chunk).
    pub chunks: u64,
    /// Length of the sealed body in bytes.
    pub body_len: u64,
}

impl Layout {
    /// Layout of the stream that sealing `plaintext_len` bytes produces.
    pub fn for_plaintext(plaintext_len: u64, chunk_size: u32) -> Self {
        let cs = u64::from(chunk_size.max(1));
        let chunks = plaintext_len.div_ceil(cs).max(1);
        Self {
            chunk_size,
            chunks,
            body_len: plaintext_len + chunks * TAG_LEN as u64,
        }
    }

    /// Layout of a sealed body of `body_len` bytes, or an error if no stream has that length.
    pub fn for_body(body_len: u64, chunk_size: u32) -> Result<Self, StreamError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(StreamError::BadLength);
        }
        let sealed = u64::from(chunk_size) + TAG_LEN as u64;
        if body_len < TAG_LEN as u64 {
            return Err(StreamError::BadLength);
        }
        let chunks = body_len.div_ceil(sealed);
        let last = body_len - (chunks - 1) * sealed;
        if last < TAG_LEN as u64 {
            return Err(StreamError::BadLength);
        }
        // An empty final chunk is only valid as the sole chunk (the writer never emits one
        // after a full chunk); rejecting it keeps one canonical encoding per plaintext.
        if last == TAG_LEN as u64 && chunks > 1 {
            return Err(StreamError::BadLength);
        }
        Ok(Self {
            chunk_size,
            chunks,
            body_len,
        })
    }

    /// Plaintext length this stream decrypts to.
    pub fn plaintext_len(&self) -> u64 {
        self.body_len - self.chunks * TAG_LEN as u64
    }

    /// Byte range of sealed chunk `index` within the body.
    pub fn chunk_range(&self, index: u64) -> Result<Range<u64>, StreamError> {
        if index >= self.chunks {
            return Err(StreamError::OutOfRange { index });
        }
        let sealed = u64::from(self.chunk_size) + TAG_LEN as u64;
        let start = index * sealed;
        let end = (start + sealed).min(self.body_len);
        Ok(start..end)
    }

    /// Whether `index` is the final chunk.
    pub fn is_last(&self, index: u64) -> bool {
        index + 1 == self.chunks
    }
}

/// Seals chunks of one stream, in order.
#[derive(Debug)]
pub struct ChunkSealer {
    key: LessSafeKey,
    aad: [u8; STREAM_AAD_LEN],
    next: u64,
    finished: bool,
}

impl ChunkSealer {
    pub(crate) fn new(cek: &ContentKey, aad: [u8; STREAM_AAD_LEN]) -> Result<Self, StreamError> {
        Ok(Self {
            key: cek.0.aead().map_err(|_| StreamError::Key)?,
            aad,
            next: 0,
            finished: false,
        })
    }

    /// Seals the next chunk in place. `buf` holds the plaintext followed by `TAG_LEN` spare
    /// bytes that receive the tag. Sealing after the final chunk is refused.
    pub fn seal_next(&mut self, buf: &mut [u8], last: bool) -> Result<(), StreamError> {
        if buf.len() < TAG_LEN {
            return Err(StreamError::BufferSize);
        }
        let split = buf.len() - TAG_LEN;
        let (data, tag_out) = buf.split_at_mut(split);
        let tag = self.seal_next_detached(data, last)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Seals the next chunk's plaintext in place and returns its tag, for callers that append
    /// the tag themselves.
    pub fn seal_next_detached(
        &mut self,
        data: &mut [u8],
        last: bool,
    ) -> Result<[u8; TAG_LEN], StreamError> {
        if self.finished {
            return Err(StreamError::BufferSize);
        }
        let tag: Tag = self
            .key
            .seal_in_place_separate_tag(nonce(self.next, last), Aad::from(self.aad), data)
            .map_err(|_| StreamError::Key)?;
        self.next += 1;
        self.finished = last;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }
}

/// Opens chunks of one stream, in any order (random access).
#[derive(Debug)]
pub struct ChunkOpener {
    key: LessSafeKey,
    aad: [u8; STREAM_AAD_LEN],
    layout: Layout,
}

impl ChunkOpener {
    pub(crate) fn new(
        cek: &ContentKey,
        aad: [u8; STREAM_AAD_LEN],
        layout: Layout,
    ) -> Result<Self, StreamError> {
        Ok(Self {
            key: cek.0.aead().map_err(|_| StreamError::Key)?,
            aad,
            layout,
        })
    }

    /// The stream's geometry.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Opens sealed chunk `index` in place; returns the plaintext part of `buf`.
    pub fn open<'a>(&self, index: u64, buf: &'a mut [u8]) -> Result<&'a mut [u8], StreamError> {
        let range = self.layout.chunk_range(index)?;
        if buf.len() as u64 != range.end - range.start {
            return Err(StreamError::BufferSize);
        }
        let last = self.layout.is_last(index);
        self.key
            .open_in_place(nonce(index, last), Aad::from(self.aad), buf)
            .map(|plain| &mut plain[..])
            .map_err(|_| StreamError::ChunkAuth { index })
    }
}

/// Copies bytes from a sequence of slices, as if they were one contiguous plaintext.
#[derive(Debug)]
pub struct PartsReader<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    offset: usize,
}

impl<'a> PartsReader<'a> {
    /// A reader over `parts` in order.
    pub fn new(parts: &'a [&'a [u8]]) -> Self {
        Self {
            parts,
            part: 0,
            offset: 0,
        }
    }

    /// Total length of all parts.
    pub fn total_len(&self) -> u64 {
        self.parts.iter().map(|p| p.len() as u64).sum()
    }

    /// Appends up to `n` bytes to `out` (no zero-filling first); returns how many.
    pub fn append(&mut self, out: &mut Vec<u8>, n: usize) -> usize {
        let mut written = 0;
        while written < n {
            let Some(part) = self.parts.get(self.part) else {
                break;
            };
            let rest = part.get(self.offset..).unwrap_or_default();
            if rest.is_empty() {
                self.part += 1;
                self.offset = 0;
                continue;
            }
            let take = rest.len().min(n - written);
            out.extend_from_slice(&rest[..take]);
            written += take;
            self.offset += take;
        }
        written
    }

    /// Fills `dst` completely unless the parts run out; returns how many bytes were copied.
    pub fn fill(&mut self, dst: &mut [u8]) -> usize {
        let mut written = 0;
        while written < dst.len() {
            let Some(part) = self.parts.get(self.part) else {
                break;
            };
            let rest = part.get(self.offset..).unwrap_or_default();
            if rest.is_empty() {
                self.part += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(dst.len() - written);
            dst[written..written + n].copy_from_slice(&rest[..n]);
            written += n;
            self.offset += n;
        }
        written
    }
}
