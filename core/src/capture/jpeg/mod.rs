//! JPEG handling for Ward's capture pipeline: format sniffing ([`sniff`]), metadata
//! stripping (the marker walk in [`markers`], the EOI / trailer scan in [`eoi`], the Exif
//! rewrite in [`exif_rewrite`]) and thumbnail generation ([`thumbnail`](mod@thumbnail)). [`strip_metadata`] walks the marker
//! segments of a JPEG up to the first SOS header and returns a sanitized
//! header plus a borrowed slice of the original entropy-coded data, so a
//! multi-megabyte photo is cleaned without re-encoding and without copying
//! the image data (GPS, camera identity, XMP, comments, Photoshop/IPTC and
//! embedded thumbnails are removed; colour-relevant segments and a minimal
//! Exif block holding only the tags in the [`StripPolicy`] keep-list, by
//! default Orientation, are retained). The borrowed slice ends at the primary
//! image's EOI marker, found with one vectorized pass over the scan data, so
//! everything appended after it (MPF secondary images, motion-photo video
//! trailers, any other appended data, each possibly carrying its own Exif) is
//! dropped. APPn/COM segments placed between the scans of a progressive file
//! are left out by [`scan_parts`] (capture stores the pieces around them).
//! [`thumbnail`] decodes within a fixed memory budget
//! ([`THUMBNAIL_DECODE_BUDGET_BYTES`], judged from the frame header before any
//! pixel is decoded),  with IDCT scaling, box-filters,
//! applies the Exif orientation and re-encodes a small upright RGB JPEG that
//! carries no metadata.

mod eoi;
mod exif_rewrite;
mod interscan;
mod markers;
mod sniff;
#[cfg(test)]
mod test_util;
mod thumbnail;

pub use interscan::scan_parts;
pub use markers::strip_metadata;
pub use sniff::{ImageFormat, detect_format};
pub use thumbnail::thumbnail;

use eoi::find_eoi;
use exif_rewrite::ExifAccumulator;

/// Exif tag id of Orientation (IFD0).
pub const TAG_ORIENTATION: u16 = 0x0112;
/// Exif tag id of DateTimeOriginal (Exif sub-IFD).
pub const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;

/// Largest source image (in pixels) that [`thumbnail`] agrees to decode.
/// Guards against decompression bombs: progressive JPEGs need a coefficient
/// buffer proportional to the full, unscaled image size.
pub const MAX_THUMBNAIL_SOURCE_PIXELS: u64 = 256 * 1024 * 1024;

/// The most memory [`thumbnail`] lets the decoder take, judged from the frame header before
/// decoding: the decoded (DCT-scaled) pixels, plus for progressive files the coefficient
/// buffer of the whole unscaled image (2 bytes per sample), and for lossless files (which
/// cannot be scaled) the full image. A 48 MP progressive RGB photo needs 288 MiB and is
/// refused; a 48 MP baseline one decodes at 1/8 scale in under 3 MiB.
pub const THUMBNAIL_DECODE_BUDGET_BYTES: u64 = 96 * 1024 * 1024;

const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_GPS_IFD: u16 = 0x8825;
const TAG_INTEROP_IFD: u16 = 0xA005;
/// Tags whose values are offsets into the TIFF structure (or point at data
/// we drop); copying them verbatim would produce dangling pointers, so they
/// are never kept even if listed in the policy.
const STRUCTURAL_TAGS: [u16; 10] = [
    TAG_EXIF_IFD,
    TAG_GPS_IFD,
    TAG_INTEROP_IFD,
    0x0111, // StripOffsets
    0x0117, // StripByteCounts
    0x0144, // TileOffsets
    0x0145, // TileByteCounts
    0x014A, // SubIFDs
    0x0201, // JPEGInterchangeFormat (thumbnail offset)
    0x0202, // JPEGInterchangeFormatLength
];

const EXIF_HEADER: &[u8] = b"Exif\0\0";
const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_HEADER: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
/// Largest payload of one marker segment (the 16-bit length includes itself).
const MAX_SEGMENT_PAYLOAD: usize = 65533;

/// Errors from JPEG parsing, stripping and thumbnailing.
#[derive(thiserror::Error, Debug)]
pub enum JpegError {
    #[error("not a JPEG (missing SOI marker)")]
    NotJpeg,
    #[error("truncated JPEG: data ends at or before byte offset {offset}")]
    Truncated { offset: usize },
    #[error("malformed JPEG: {0}")]
    Malformed(String),
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("JPEG decoding failed: {0}")]
    Decode(String),
    #[error(
        "a {width}x{height} image would need {needed_bytes} bytes to decode, over the thumbnail budget of {budget_bytes}"
    )]
    OverBudget {
        width: u16,
        height: u16,
        needed_bytes: u64,
        budget_bytes: u64,
    },
    #[error("HEIC photos are refused until their Exif/XMP location can be stripped: capture JPEG")]
    HeicRefused,
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
}

/// Which metadata survives [`strip_metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripPolicy {
    /// Exif tag ids (found in IFD0 or the Exif sub-IFD) to keep. Pointer /
    /// offset tags (Exif, GPS and Interop IFD pointers, strip/tile offsets,
    /// thumbnail offsets) are never kept.
    pub keep_tags: Vec<u16>,
}

impl Default for StripPolicy {
    fn default() -> Self {
        Self {
            keep_tags: vec![TAG_ORIENTATION],
        }
    }
}

/// What [`strip_metadata`] found and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripReport {
    /// Orientation (0x0112) from IFD0 of the first Exif segment carrying it,
    /// whether or not it was kept.
    pub orientation: Option<u16>,
    /// True if an Exif GPS IFD was dropped or a dropped XMP packet
    /// mentioned GPS.
    pub removed_gps: bool,
    /// One entry per removed (or rewritten) segment, e.g. "APP1/Exif"
    /// (the original Exif block; a minimal one may be written in its place),
    /// "APP1/XMP", "APP1/XMP-extension", "COM", "APP13", "APP2/MPF",
    /// "APP0/JFXX", "APP0/JFIF-thumbnail", plus "trailer (N bytes)" (always
    /// last) when N > 0 bytes followed the primary image's EOI marker.
    pub removed_segments: Vec<String>,
    /// Tags written to the new Exif segment, in the order written.
    pub kept_tags: Vec<u16>,
}

/// A sanitized JPEG: `head ++ scan`.
#[derive(Debug, Clone)]
pub struct Stripped<'a> {
    /// SOI, the kept (possibly rewritten) segments and the first SOS segment.
    pub head: Vec<u8>,
    /// A borrowed, byte-identical sub-slice of the input (no copy):
    /// `&input[scan_start..eoi_end]`, from the first byte after the first SOS
    /// header up to and including the primary image's EOI marker (`FF D9`),
    /// so it always ends with `FF D9`. It contains the entropy-coded data and,
    /// for progressive files, the marker segments between scans (passed
    /// through unmodified). Bytes after the EOI are not included (see
    /// [`StripReport::removed_segments`]).
    pub scan: &'a [u8],
    pub report: StripReport,
}

impl Stripped<'_> {
    /// Total length of the sanitized JPEG.
    pub fn len(&self) -> usize {
        self.head.len().saturating_add(self.scan.len())
    }

    /// True if the sanitized JPEG has no bytes (never the case for `Ok`
    /// results of [`strip_metadata`]).
    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.scan.is_empty()
    }

    /// The sanitized JPEG as one contiguous buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(self.scan);
        out
    }
}

fn malformed(msg: impl Into<String>) -> JpegError {
    JpegError::Malformed(msg.into())
}

fn be_u16_at(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

fn push_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) -> Result<(), JpegError> {
    let len = payload
        .len()
        .checked_add(2)
        .and_then(|l| u16::try_from(l).ok())
        .ok_or_else(|| malformed("segment payload too large"))?;
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::capture::jpeg::test_util::*;

    #[test]
    fn small_jpeg_of_size() {
        let target = 300_000;
        let j = jpeg_of_size(target, 3);
        assert!(
            j.len() >= target && j.len() <= target + target / 10,
            "{}",
            j.len()
        );
        let ex = read_exif(&j).expect("exif");
        assert!(ex.get_field(Tag::GPSLatitude, In::PRIMARY).is_some());
        decode(&j);
    }
}
