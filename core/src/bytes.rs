//! A byte buffer that crosses the FFI in one `memcpy` instead of byte by byte.
//!
//! uniffi 0.32 lifts and lowers `Vec<u8>` through its generic `Vec<T>` converter, one byte at a
//! time (~3 ns/byte: 8 MB costs ~25 ms). The generated Kotlin and Swift code already move a
//! `ByteArray`/`Data` into the `RustBuffer` in bulk, so the only slow part is the Rust side.
//! [`Bytes`] declares itself to the bindings as the same `bytes` type (identical generated
//! code), but adopts the incoming `RustBuffer` without copying and writes outgoing data with
//! one bulk copy, or none when built with [`Bytes::with_capacity`].

use std::ops::Deref;

use uniffi::{MetadataBuffer, RustBuffer};

const PREFIX: usize = 4;

/// Bytes passed to and from the apps (photos, thumbnails).
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes {
    /// Serialized form: a big-endian i32 length followed by the data.
    buf: Vec<u8>,
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

impl Bytes {
    /// An empty buffer with room for `cap` data bytes, to be filled with [`Bytes::extend`] or
    /// [`Bytes::spare_tail`]; lowering it to the app then copies nothing.
    pub fn with_capacity(cap: usize) -> Self {
        let mut buf = Vec::with_capacity(cap + PREFIX);
        buf.extend_from_slice(&[0; PREFIX]);
        Self { buf }
    }

    /// Appends data.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Grows the data by `n` zero bytes and returns them, for in-place filling.
    pub fn grow(&mut self, n: usize) -> &mut [u8] {
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        &mut self.buf[start..]
    }

    /// Shrinks the data to `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(PREFIX + len);
    }

    /// The data.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(PREFIX..).unwrap_or_default()
    }

    fn finish(mut self) -> Vec<u8> {
        let len = i32::try_from(self.as_slice().len()).unwrap_or(i32::MAX);
        if let Some(p) = self.buf.get_mut(..PREFIX) {
            p.copy_from_slice(&len.to_be_bytes());
        }
        self.buf
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        let mut b = Self::with_capacity(v.len());
        b.extend(&v);
        b
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        let mut b = Self::with_capacity(v.len());
        b.extend(v);
        b
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

fn parse(buf: Vec<u8>) -> uniffi::Result<Bytes> {
    let header: [u8; PREFIX] = buf
        .get(..PREFIX)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| uniffi::deps::anyhow::anyhow!("bytes: missing length"))?;
    let len = usize::try_from(i32::from_be_bytes(header))?;
    if buf.len() != PREFIX + len {
        uniffi::deps::anyhow::bail!("bytes: length mismatch");
    }
    Ok(Bytes { buf })
}

// SAFETY: the FFI type is `RustBuffer`, exactly what the bindings generated for uniffi's
// `bytes` type pass and expect (a serialized i32 length + data); we only change how the Rust
// side copies it. The metadata is the one of `Vec<u8>`, so bindings treat it as `bytes`.
#[allow(unsafe_code)]
unsafe impl uniffi::FfiConverter<crate::UniFfiTag> for Bytes {
    type FfiType = RustBuffer;

    fn lower(obj: Self) -> RustBuffer {
        RustBuffer::from_vec(obj.finish())
    }

    fn try_lift(v: RustBuffer) -> uniffi::Result<Self> {
        // The whole RustBuffer is exactly the serialized value: adopt its allocation.
        parse(v.destroy_into_vec())
    }

    fn write(obj: Self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&obj.finish());
    }

    fn try_read(buf: &mut &[u8]) -> uniffi::Result<Self> {
        let header: [u8; PREFIX] = buf
            .get(..PREFIX)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| uniffi::deps::anyhow::anyhow!("bytes: missing length"))?;
        let len = usize::try_from(i32::from_be_bytes(header))?;
        let data = buf
            .get(PREFIX..PREFIX + len)
            .ok_or_else(|| uniffi::deps::anyhow::anyhow!("bytes: truncated"))?;
        let out = Bytes::from(data);
        *buf = buf.get(PREFIX + len..).unwrap_or_default();
        Ok(out)
    }

    const TYPE_ID_META: MetadataBuffer =
        <Vec<u8> as uniffi::TypeId<crate::UniFfiTag>>::TYPE_ID_META;
}

uniffi::derive_ffi_traits!(local Bytes);

#[cfg(test)]
mod tests {
    use uniffi::{FfiConverter, Lift, Lower};

    use super::*;

    #[test]
    fn lift_and_lower_agree_with_uniffi_vec_u8() {
        let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        // What the app sends for `bytes` is what uniffi's own Vec<u8> lowering produces.
        let rb = <Vec<u8> as Lower<crate::UniFfiTag>>::lower(data.clone());
        let lifted = <Bytes as FfiConverter<crate::UniFfiTag>>::try_lift(rb).unwrap();
        assert_eq!(lifted.as_slice(), &data[..]);
        // And what we send back lifts as the same Vec<u8>.
        let rb = <Bytes as FfiConverter<crate::UniFfiTag>>::lower(lifted);
        let back = <Vec<u8> as Lift<crate::UniFfiTag>>::try_lift(rb).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn malformed_buffers_are_errors() {
        assert!(parse(vec![0, 0]).is_err());
        assert!(parse(vec![0, 0, 0, 5, 1]).is_err());
        assert!(parse(vec![0xff, 0xff, 0xff, 0xff]).is_err());
        let mut slice: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(<Bytes as FfiConverter<crate::UniFfiTag>>::try_read(&mut slice).is_err());
    }

    #[test]
    fn in_place_growth() {
        let mut b = Bytes::with_capacity(8);
        b.grow(3).copy_from_slice(b"abc");
        b.extend(b"de");
        b.truncate(4);
        assert_eq!(&*b, b"abcd");
    }
}
