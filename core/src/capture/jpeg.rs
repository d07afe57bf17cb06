//! JPEG handling for Ward's capture pipeline: format sniffing, metadata
//! stripping and thumbnail generation. [`strip_metadata`] walks the marker
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
//! dropped. Limitation: marker segments placed between the scans of a
//! progressive file are skipped over but passed through untouched, so an
//! APPn/COM segment located there is NOT stripped (encoders do not normally
//! put metadata there). [`thumbnail`] decodes with IDCT scaling, box-filters,
//! applies the Exif orientation and re-encodes a small upright RGB JPEG that
//! carries no metadata.

use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};
use jpeg_encoder::{ColorType, Encoder};

/// Exif tag id of Orientation (IFD0).
pub const TAG_ORIENTATION: u16 = 0x0112;
/// Exif tag id of DateTimeOriginal (Exif sub-IFD).
pub const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;

/// Largest source image (in pixels) that [`thumbnail`] agrees to decode.
/// Guards against decompression bombs: progressive JPEGs need a coefficient
/// buffer proportional to the full, unscaled image size.
pub const MAX_THUMBNAIL_SOURCE_PIXELS: u64 = 256 * 1024 * 1024;

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

/// Container format of an image, as sniffed from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Heic,
    Unknown,
}

/// Sniff the container format: JPEG (`FF D8 FF`) or HEIC/HEIF (ISO-BMFF
/// `ftyp` box at offset 4 with a HEIF brand).
pub fn detect_format(bytes: &[u8]) -> ImageFormat {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return ImageFormat::Jpeg;
    }
    if bytes.get(4..8) != Some(b"ftyp".as_slice()) {
        return ImageFormat::Unknown;
    }
    const HEVC_BRANDS: [&[u8]; 7] = [
        b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs",
    ];
    const GENERIC_BRANDS: [&[u8]; 2] = [b"mif1", b"msf1"];
    const AV1_BRANDS: [&[u8]; 2] = [b"avif", b"avis"];
    let Some(major) = bytes.get(8..12) else {
        return ImageFormat::Unknown;
    };
    // Compatible brands run from offset 16 to the end of the ftyp box.
    let box_len = bytes
        .get(0..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_be_bytes(b) as usize);
    let compatible: Vec<&[u8]> = bytes
        .get(16..box_len.min(bytes.len()))
        .unwrap_or(&[])
        .chunks_exact(4)
        .collect();
    if HEVC_BRANDS.contains(&major) || compatible.iter().any(|b| HEVC_BRANDS.contains(b)) {
        return ImageFormat::Heic;
    }
    // mif1/msf1 are generic HEIF brands, also used by AVIF files.
    if GENERIC_BRANDS.contains(&major) && !compatible.iter().any(|b| AV1_BRANDS.contains(b)) {
        return ImageFormat::Heic;
    }
    ImageFormat::Unknown
}

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

/// Remove privacy-relevant metadata from a JPEG without touching its
/// entropy-coded data, and cut off everything after the primary image's EOI
/// marker. See the module docs for what is kept and what is not inspected.
/// Cost: header parsing plus one vectorized pass over the scan data to
/// locate the EOI (no copy, no decoding; about 0.3-0.4 ms for 8 MB). Input without an EOI marker is rejected
/// as [`JpegError::Truncated`].
pub fn strip_metadata<'a>(jpeg: &'a [u8], policy: &StripPolicy) -> Result<Stripped<'a>, JpegError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(JpegError::NotJpeg);
    }
    let mut report = StripReport::default();
    let mut exif = ExifAccumulator::default();
    // Kept segments after SOI; the new Exif segment is spliced in at
    // `exif_insert_at` (where the first Exif segment was).
    let mut body: Vec<u8> = Vec::with_capacity(1024);
    let mut exif_insert_at: Option<usize> = None;
    let mut seen_sof = false;
    let mut pos = 2usize;

    let (sos_segment, scan, eoi_end) = loop {
        match jpeg.get(pos) {
            None => return Err(JpegError::Truncated { offset: pos }),
            Some(0xFF) => {}
            Some(b) => {
                return Err(malformed(format!(
                    "expected marker at offset {pos}, found 0x{b:02X}"
                )));
            }
        }
        // Any number of 0xFF fill bytes may precede the marker code.
        let mut mpos = pos + 1;
        let marker = loop {
            match jpeg.get(mpos) {
                None => return Err(JpegError::Truncated { offset: mpos }),
                Some(0xFF) => mpos += 1,
                Some(&m) => break m,
            }
        };
        match marker {
            0x01 => {
                // TEM: standalone, no length.
                body.extend_from_slice(&[0xFF, 0x01]);
                pos = mpos + 1;
                continue;
            }
            0x00 => return Err(malformed(format!("stuffed 0xFF00 at offset {mpos}"))),
            0xD0..=0xD7 => return Err(malformed("RST marker before first scan")),
            0xD8 => return Err(malformed("duplicate SOI marker")),
            0xD9 => return Err(malformed("EOI before any scan")),
            _ => {}
        }
        let len_at = mpos + 1;
        let len = usize::from(
            be_u16_at(jpeg, len_at).ok_or(JpegError::Truncated { offset: jpeg.len() })?,
        );
        if len < 2 {
            return Err(malformed(format!(
                "segment 0x{marker:02X} at offset {pos} has invalid length {len}"
            )));
        }
        let seg_end = len_at
            .checked_add(len)
            .ok_or_else(|| malformed("segment length overflow"))?;
        let payload = jpeg
            .get(len_at + 2..seg_end)
            .ok_or(JpegError::Truncated { offset: jpeg.len() })?;
        // Length field + payload, as in the input.
        let raw = jpeg
            .get(len_at..seg_end)
            .ok_or(JpegError::Truncated { offset: jpeg.len() })?;
        pos = seg_end;

        match marker {
            0xDA => {
                if !seen_sof {
                    return Err(malformed("SOS before any SOF"));
                }
                let eoi_end = find_eoi(jpeg, seg_end)?;
                let scan = jpeg
                    .get(seg_end..eoi_end)
                    .ok_or(JpegError::Truncated { offset: seg_end })?;
                break (raw, scan, eoi_end);
            }
            0xE0 => {
                if payload.starts_with(b"JFIF\0") {
                    match payload.get(..14) {
                        // Drop the optional embedded RGB thumbnail: it can
                        // show uncropped content.
                        Some(fixed) if payload.len() > 14 || fixed.get(12..14) != Some(&[0, 0]) => {
                            let mut rewritten = [0u8; 14];
                            rewritten.copy_from_slice(fixed);
                            rewritten[12] = 0;
                            rewritten[13] = 0;
                            push_segment(&mut body, 0xE0, &rewritten)?;
                            report.removed_segments.push("APP0/JFIF-thumbnail".into());
                        }
                        Some(_) => push_segment(&mut body, 0xE0, payload)?,
                        None => report.removed_segments.push("APP0".into()),
                    }
                } else if payload.starts_with(b"JFXX\0") {
                    // JFXX exists only to carry thumbnails.
                    report.removed_segments.push("APP0/JFXX".into());
                } else {
                    report.removed_segments.push("APP0".into());
                }
            }
            0xE1 => {
                if let Some(tiff) = payload.strip_prefix(EXIF_HEADER) {
                    exif.parse_segment(tiff, policy)?;
                    exif_insert_at.get_or_insert(body.len());
                    report.removed_segments.push("APP1/Exif".into());
                } else {
                    let name = if payload.starts_with(XMP_HEADER) {
                        "APP1/XMP"
                    } else if payload.starts_with(XMP_EXT_HEADER) {
                        "APP1/XMP-extension"
                    } else {
                        "APP1"
                    };
                    if contains(payload, b"GPS") {
                        report.removed_gps = true;
                    }
                    report.removed_segments.push(name.into());
                }
            }
            0xE2 if payload.starts_with(b"ICC_PROFILE\0") => {
                body.extend_from_slice(&[0xFF, marker]);
                body.extend_from_slice(raw);
            }
            0xE2 if payload.starts_with(b"MPF\0") => {
                report.removed_segments.push("APP2/MPF".into());
            }
            0xEE if payload.starts_with(b"Adobe") => {
                body.extend_from_slice(&[0xFF, marker]);
                body.extend_from_slice(raw);
            }
            0xE2..=0xEF => report
                .removed_segments
                .push(format!("APP{}", marker - 0xE0)),
            0xFE => report.removed_segments.push("COM".into()),
            _ => {
                // DQT, DHT, SOFn, DRI, DNL, DHP, EXP, JPGn, ...: kept verbatim.
                if is_sof(marker) {
                    seen_sof = true;
                }
                body.extend_from_slice(&[0xFF, marker]);
                body.extend_from_slice(raw);
            }
        }
    };

    report.orientation = exif.orientation;
    report.removed_gps |= exif.gps;
    let trailer_len = jpeg.len().saturating_sub(eoi_end);
    if trailer_len > 0 {
        report
            .removed_segments
            .push(format!("trailer ({trailer_len} bytes)"));
    }
    let exif_segment = exif.build_segment(&mut report.kept_tags)?;

    let mut head = Vec::with_capacity(
        2 + body.len() + exif_segment.as_ref().map_or(0, Vec::len) + 2 + sos_segment.len(),
    );
    head.extend_from_slice(&[0xFF, 0xD8]);
    let split = exif_insert_at.unwrap_or(0).min(body.len());
    let (before, after) = body.split_at(split);
    head.extend_from_slice(before);
    if let Some(seg) = &exif_segment {
        head.extend_from_slice(seg);
    }
    head.extend_from_slice(after);
    head.extend_from_slice(&[0xFF, 0xDA]);
    head.extend_from_slice(sos_segment);

    tracing::debug!(
        removed = ?report.removed_segments,
        kept_tags = ?report.kept_tags,
        removed_gps = report.removed_gps,
        head_len = head.len(),
        scan_len = scan.len(),
        trailer_len,
        "stripped JPEG metadata"
    );
    Ok(Stripped { head, scan, report })
}

/// Offset just past the EOI marker (`FF D9`) of the image whose first scan
/// data starts at `from`.
///
/// Inside entropy-coded data a literal 0xFF is stuffed as `FF 00` and
/// restart markers are `FF D0`..`FF D7`, so those (and 0xFF fill bytes) are
/// stepped over; the marker segments that may legally sit between the scans
/// of a progressive or multi-scan file (DHT, DAC, DQT, DNL, DRI, SOS, APPn,
/// COM) are skipped by their length field, so bytes `FF D9` inside their
/// payload are not mistaken for the EOI. Any other marker before the EOI is
/// malformed. The data is examined [`EOI_BLOCK`] bytes at a time: a
/// branch-free (auto-vectorized) test skips blocks whose only 0xFF bytes are
/// stuffed `FF 00`; for the other blocks a bit mask of the 0xFF bytes not
/// followed by 0x00 is built and only those positions are looked at.
fn find_eoi(jpeg: &[u8], from: usize) -> Result<usize, JpegError> {
    let truncated = || JpegError::Truncated { offset: jpeg.len() };
    let mut pos = from;
    'blocks: loop {
        pos = skip_plain_blocks(jpeg, pos);
        let (mut mask, block_len) = marker_mask(jpeg, pos);
        if block_len == 0 {
            return Err(truncated());
        }
        while mask != 0 {
            let at = pos.saturating_add(mask.trailing_zeros() as usize);
            mask &= mask.wrapping_sub(1);
            let Some(&marker) = jpeg.get(at.saturating_add(1)) else {
                return Err(truncated());
            };
            match marker {
                // Restart marker, fill byte: keep going.
                0xD0..=0xD7 | 0xFF => {}
                0xD9 => return Ok(at.saturating_add(2)),
                // TEM: standalone.
                0x01 => {
                    pos = at.saturating_add(2);
                    continue 'blocks;
                }
                0xC4 | 0xCC | 0xDA..=0xDD | 0xE0..=0xEF | 0xFE => {
                    let len =
                        usize::from(be_u16_at(jpeg, at.saturating_add(2)).ok_or_else(truncated)?);
                    if len < 2 {
                        return Err(malformed(format!(
                            "segment 0x{marker:02X} at offset {at} has invalid length {len}"
                        )));
                    }
                    pos = at.saturating_add(2).saturating_add(len);
                    if pos > jpeg.len() {
                        return Err(truncated());
                    }
                    continue 'blocks;
                }
                _ => {
                    return Err(malformed(format!(
                        "unexpected marker 0x{marker:02X} at offset {at} before EOI"
                    )));
                }
            }
        }
        pos = pos.saturating_add(block_len);
    }
}

/// Block size of [`find_eoi`] (one bit per byte in a `u64` mask).
const EOI_BLOCK: usize = 64;

/// Two overlapping windows at `pos`: the block and the block shifted by one
/// byte (lookahead), if both are complete.
fn block_pair(data: &[u8], pos: usize) -> Option<(&[u8; EOI_BLOCK], &[u8; EOI_BLOCK])> {
    let cur = data.get(pos..pos.saturating_add(EOI_BLOCK))?;
    let next = data.get(pos.saturating_add(1)..pos.saturating_add(EOI_BLOCK + 1))?;
    Some((cur.try_into().ok()?, next.try_into().ok()?))
}

/// First offset `>= pos` of a block of [`EOI_BLOCK`] bytes that may hold a
/// marker (a 0xFF byte followed by anything but 0x00, the byte after the
/// block counting as lookahead), or where fewer than `EOI_BLOCK + 1` bytes
/// remain.
fn skip_plain_blocks(data: &[u8], mut pos: usize) -> usize {
    while let Some((cur, next)) = block_pair(data, pos) {
        // Constant trip count, no early exit: compiles to SIMD compares.
        let candidate = cur.iter().zip(next).fold(0u8, |acc, (&c, &n)| {
            acc | (u8::from(c == 0xFF) & u8::from(n != 0))
        });
        if candidate != 0 {
            return pos;
        }
        pos = pos.saturating_add(EOI_BLOCK);
    }
    pos
}

/// For the block of up to [`EOI_BLOCK`] bytes at `pos` that each have a
/// following byte (the last byte of the input has none, so it never starts
/// a block on its own): a mask with bit `i` set if `data[pos + i]` is 0xFF
/// and `data[pos + i + 1]` is not 0x00, and the number of bytes covered
/// (0 once fewer than two bytes remain).
fn marker_mask(data: &[u8], pos: usize) -> (u64, usize) {
    if let Some((cur, next)) = block_pair(data, pos) {
        // SWAR, 8 bytes per step; exact per byte (no carries between bytes).
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // High bit of each byte of `v` set iff that byte is non-zero.
        let nonzero = |v: u64| ((v & LOW7).wrapping_add(LOW7) | v) & HIGH;
        let mut mask = 0u64;
        for (k, (c, n)) in cur.chunks_exact(8).zip(next.chunks_exact(8)).enumerate() {
            let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
            let hits = !nonzero(!word(c)) & nonzero(word(n)) & HIGH;
            // Gather the 8 high bits into one byte (byte i -> bit i).
            let bits = (hits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            mask |= bits << (8 * k);
        }
        return (mask, EOI_BLOCK);
    }
    // Tail: at most EOI_BLOCK pairs remain.
    let tail = data.get(pos..).unwrap_or_default();
    let mut mask = 0u64;
    let mut covered = 0usize;
    for (i, pair) in tail.windows(2).take(EOI_BLOCK).enumerate() {
        if let [0xFF, n] = *pair {
            mask |= u64::from(n != 0) << i;
        }
        covered = i + 1;
    }
    (mask, covered)
}

// ---------------------------------------------------------------------------
// Exif (TIFF) parsing and minimal re-writing
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }

    fn put_u16(self, out: &mut Vec<u8>, v: u16) {
        match self {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        match self {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// TIFF field type: (size of one value, size of the unit to byte-swap).
fn type_sizes(typ: u16) -> Option<(usize, usize)> {
    match typ {
        1 | 2 | 6 | 7 => Some((1, 1)),   // BYTE, ASCII, SBYTE, UNDEFINED
        3 | 8 => Some((2, 2)),           // SHORT, SSHORT
        4 | 9 | 11 | 13 => Some((4, 4)), // LONG, SLONG, FLOAT, IFD
        5 | 10 => Some((8, 4)),          // RATIONAL, SRATIONAL (two 32-bit halves)
        12 => Some((8, 8)),              // DOUBLE
        _ => None,
    }
}

struct Tiff<'a> {
    data: &'a [u8],
    order: ByteOrder,
}

impl<'a> Tiff<'a> {
    fn bytes(&self, offset: usize, len: usize) -> Result<&'a [u8], JpegError> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| malformed("Exif offset overflow"))?;
        self.data
            .get(offset..end)
            .ok_or_else(|| malformed(format!("Exif offset {offset}+{len} out of range")))
    }

    fn u16_at(&self, offset: usize) -> Result<u16, JpegError> {
        let b = self.bytes(offset, 2)?;
        Ok(self
            .order
            .u16(b.try_into().map_err(|_| malformed("Exif read"))?))
    }

    fn u32_at(&self, offset: usize) -> Result<u32, JpegError> {
        let b = self.bytes(offset, 4)?;
        Ok(self
            .order
            .u32(b.try_into().map_err(|_| malformed("Exif read"))?))
    }

    fn read_ifd(&self, offset: usize) -> Result<Vec<IfdEntry>, JpegError> {
        let count = usize::from(self.u16_at(offset)?);
        let first = offset
            .checked_add(2)
            .ok_or_else(|| malformed("Exif offset overflow"))?;
        // Whole entry table must be present (bounds the allocation too).
        self.bytes(first, count * 12)?;
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let at = first + i * 12;
            entries.push(IfdEntry {
                tag: self.u16_at(at)?,
                typ: self.u16_at(at + 2)?,
                count: self.u32_at(at + 4)?,
                field_pos: at + 8,
            });
        }
        Ok(entries)
    }

    /// The raw value bytes of an entry (inline or out-of-line), in the
    /// source byte order. `None` for unknown field types.
    fn value(&self, e: &IfdEntry) -> Result<Option<&'a [u8]>, JpegError> {
        let Some((size, _)) = type_sizes(e.typ) else {
            return Ok(None);
        };
        let len = usize::try_from(e.count)
            .ok()
            .and_then(|c| c.checked_mul(size))
            .ok_or_else(|| malformed("Exif value size overflow"))?;
        if len <= 4 {
            return self.bytes(e.field_pos, len).map(Some);
        }
        let offset = usize::try_from(self.u32_at(e.field_pos)?)
            .map_err(|_| malformed("Exif offset overflow"))?;
        self.bytes(offset, len).map(Some)
    }

    fn pointer(&self, e: &IfdEntry) -> Result<usize, JpegError> {
        if !matches!(e.typ, 4 | 13) || e.count != 1 {
            return Err(malformed(format!("bad IFD pointer tag 0x{:04X}", e.tag)));
        }
        let offset = usize::try_from(self.u32_at(e.field_pos)?)
            .map_err(|_| malformed("Exif offset overflow"))?;
        if offset < 8 || offset >= self.data.len() {
            return Err(malformed(format!("IFD offset {offset} out of range")));
        }
        Ok(offset)
    }
}

struct IfdEntry {
    tag: u16,
    typ: u16,
    count: u32,
    /// Position of the 4-byte value/offset field within the TIFF data.
    field_pos: usize,
}

struct KeptEntry {
    tag: u16,
    typ: u16,
    count: u32,
    /// Value bytes in the output byte order.
    value: Vec<u8>,
}

#[derive(Default)]
struct ExifAccumulator {
    out_order: Option<ByteOrder>,
    ifd0: Vec<KeptEntry>,
    exif_ifd: Vec<KeptEntry>,
    orientation: Option<u16>,
    gps: bool,
}

impl ExifAccumulator {
    /// Parse one Exif payload (starting at the TIFF header) and collect the
    /// entries to keep. Only IFD0 and the Exif sub-IFD are read; the IFD
    /// chain (IFD1 thumbnail), GPS and Interop IFDs are never followed, so
    /// IFD loops cannot cause repeated work.
    fn parse_segment(&mut self, data: &[u8], policy: &StripPolicy) -> Result<(), JpegError> {
        let order = match data.get(..4) {
            Some(b"II*\0") => ByteOrder::Little,
            Some(b"MM\0*") => ByteOrder::Big,
            _ => return Err(malformed("bad TIFF header in Exif segment")),
        };
        let tiff = Tiff { data, order };
        let out_order = *self.out_order.get_or_insert(order);
        let ifd0_off =
            usize::try_from(tiff.u32_at(4)?).map_err(|_| malformed("Exif offset overflow"))?;
        if ifd0_off < 8 {
            return Err(malformed("IFD0 offset points into TIFF header"));
        }
        let wanted = |tag: u16| policy.keep_tags.contains(&tag) && !STRUCTURAL_TAGS.contains(&tag);

        let mut exif_off = None;
        for e in tiff.read_ifd(ifd0_off)? {
            match e.tag {
                TAG_GPS_IFD => self.gps = true,
                TAG_EXIF_IFD if exif_off.is_none() => exif_off = Some(tiff.pointer(&e)?),
                TAG_ORIENTATION if self.orientation.is_none() && e.typ == 3 && e.count >= 1 => {
                    self.orientation = Some(tiff.u16_at(e.field_pos)?);
                }
                _ => {}
            }
            if wanted(e.tag) {
                Self::keep(&mut self.ifd0, &tiff, &e, out_order)?;
            }
        }
        if let Some(off) = exif_off {
            if off == ifd0_off {
                return Err(malformed("Exif IFD pointer loops back to IFD0"));
            }
            for e in tiff.read_ifd(off)? {
                if e.tag == TAG_GPS_IFD {
                    self.gps = true;
                }
                if wanted(e.tag) {
                    Self::keep(&mut self.exif_ifd, &tiff, &e, out_order)?;
                }
            }
        }
        Ok(())
    }

    fn keep(
        list: &mut Vec<KeptEntry>,
        tiff: &Tiff<'_>,
        e: &IfdEntry,
        out_order: ByteOrder,
    ) -> Result<(), JpegError> {
        if e.typ == 13 || list.iter().any(|k| k.tag == e.tag) {
            return Ok(()); // IFD-typed values are pointers; first occurrence wins.
        }
        let (Some(value), Some((_, unit))) = (tiff.value(e)?, type_sizes(e.typ)) else {
            tracing::debug!(
                tag = e.tag,
                typ = e.typ,
                "skipping kept Exif tag of unknown type"
            );
            return Ok(());
        };
        let mut value = value.to_vec();
        if tiff.order != out_order && unit > 1 {
            for chunk in value.chunks_exact_mut(unit) {
                chunk.reverse();
            }
        }
        list.push(KeptEntry {
            tag: e.tag,
            typ: e.typ,
            count: e.count,
            value,
        });
        Ok(())
    }

    /// Serialize the kept entries as a complete APP1 segment (marker
    /// included), or `None` if nothing is kept.
    fn build_segment(mut self, kept_tags: &mut Vec<u16>) -> Result<Option<Vec<u8>>, JpegError> {
        let Some(order) = self.out_order else {
            return Ok(None);
        };
        if self.ifd0.is_empty() && self.exif_ifd.is_empty() {
            return Ok(None);
        }
        self.ifd0.sort_by_key(|e| e.tag);
        self.exif_ifd.sort_by_key(|e| e.tag);
        let has_exif_ifd = !self.exif_ifd.is_empty();

        let too_big = || malformed("kept Exif metadata does not fit in one APP1 segment");
        let data_len = |entries: &[KeptEntry]| -> usize {
            entries
                .iter()
                .filter(|e| e.value.len() > 4)
                .map(|e| e.value.len().saturating_add(e.value.len() % 2))
                .fold(0usize, usize::saturating_add)
        };
        let ifd0_count = self.ifd0.len() + usize::from(has_exif_ifd);
        let ifd0_len = 2 + ifd0_count * 12 + 4;
        let exif_ifd_off = 8usize
            .saturating_add(ifd0_len)
            .saturating_add(data_len(&self.ifd0));
        let total = exif_ifd_off
            .saturating_add(if has_exif_ifd {
                2 + self.exif_ifd.len() * 12 + 4
            } else {
                0
            })
            .saturating_add(data_len(&self.exif_ifd));
        if total.saturating_add(EXIF_HEADER.len()) > MAX_SEGMENT_PAYLOAD {
            return Err(too_big());
        }

        let mut tiff: Vec<u8> = Vec::with_capacity(total);
        match order {
            ByteOrder::Little => tiff.extend_from_slice(b"II*\0"),
            ByteOrder::Big => tiff.extend_from_slice(b"MM\0*"),
        }
        order.put_u32(&mut tiff, 8);

        let pointer = has_exif_ifd.then(|| KeptEntry {
            tag: TAG_EXIF_IFD,
            typ: 4,
            count: 1,
            value: match order {
                ByteOrder::Little => (exif_ifd_off as u32).to_le_bytes().to_vec(),
                ByteOrder::Big => (exif_ifd_off as u32).to_be_bytes().to_vec(),
            },
        });
        let mut ifd0: Vec<&KeptEntry> = self.ifd0.iter().chain(pointer.as_ref()).collect();
        ifd0.sort_by_key(|e| e.tag);
        write_ifd(&mut tiff, order, &ifd0)?;
        if has_exif_ifd {
            let exif_ifd: Vec<&KeptEntry> = self.exif_ifd.iter().collect();
            write_ifd(&mut tiff, order, &exif_ifd)?;
        }
        if tiff.len() != total {
            return Err(malformed("internal Exif layout mismatch"));
        }
        kept_tags.extend(self.ifd0.iter().map(|e| e.tag));
        kept_tags.extend(self.exif_ifd.iter().map(|e| e.tag));

        let mut payload = Vec::with_capacity(EXIF_HEADER.len() + tiff.len());
        payload.extend_from_slice(EXIF_HEADER);
        payload.extend_from_slice(&tiff);
        let mut segment = Vec::with_capacity(payload.len() + 4);
        push_segment(&mut segment, 0xE1, &payload).map_err(|_| too_big())?;
        Ok(Some(segment))
    }
}

/// Append one IFD (entry table, zero next-IFD pointer, then out-of-line
/// values, each padded to an even length) at the end of `tiff`.
fn write_ifd(
    tiff: &mut Vec<u8>,
    order: ByteOrder,
    entries: &[&KeptEntry],
) -> Result<(), JpegError> {
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| malformed("Exif too large"));
    let count = u16::try_from(entries.len()).map_err(|_| malformed("too many Exif entries"))?;
    let mut data_off = tiff.len() + 2 + entries.len() * 12 + 4;
    let mut data: Vec<u8> = Vec::new();
    order.put_u16(tiff, count);
    for e in entries {
        order.put_u16(tiff, e.tag);
        order.put_u16(tiff, e.typ);
        order.put_u32(tiff, e.count);
        if e.value.len() <= 4 {
            let mut field = [0u8; 4];
            if let Some(dst) = field.get_mut(..e.value.len()) {
                dst.copy_from_slice(&e.value);
            }
            tiff.extend_from_slice(&field);
        } else {
            order.put_u32(tiff, to_u32(data_off)?);
            data.extend_from_slice(&e.value);
            if e.value.len() % 2 == 1 {
                data.push(0);
            }
            data_off = data_off.saturating_add(e.value.len() + e.value.len() % 2);
        }
    }
    order.put_u32(tiff, 0); // no next IFD (IFD1 / thumbnail dropped)
    tiff.extend_from_slice(&data);
    Ok(())
}

// ---------------------------------------------------------------------------
// Thumbnails
// ---------------------------------------------------------------------------

/// Decode `jpeg` (using IDCT scaling to the smallest size whose long edge is
/// at least `max_edge`), box-filter it so the long edge is at most
/// `max_edge` (never upscaled), rotate/flip it upright according to the Exif
/// `orientation` (e.g. [`StripReport::orientation`]; values 1..=8, anything
/// else or `None` is treated as 1), and encode it as an RGB JPEG at quality
/// 80 with no Exif/XMP/ICC metadata, so viewers show it upright without
/// needing a tag. Orientations 5..=8 swap width and height.
pub fn thumbnail(
    jpeg: &[u8],
    max_edge: u32,
    orientation: Option<u16>,
) -> Result<Vec<u8>, JpegError> {
    if max_edge == 0 {
        return Err(JpegError::InvalidArgument("max_edge must be > 0".into()));
    }
    if detect_format(jpeg) != ImageFormat::Jpeg {
        return Err(JpegError::NotJpeg);
    }
    let decode_err = |e: jpeg_decoder::Error| JpegError::Decode(e.to_string());
    let mut decoder = Decoder::new(jpeg);
    decoder.read_info().map_err(decode_err)?;
    let info = decoder
        .info()
        .ok_or_else(|| JpegError::Decode("no frame header".into()))?;
    let source_pixels = u64::from(info.width) * u64::from(info.height);
    if source_pixels == 0 {
        return Err(malformed("zero image dimension"));
    }
    if source_pixels > MAX_THUMBNAIL_SOURCE_PIXELS {
        return Err(JpegError::Unsupported(format!(
            "image of {}x{} pixels is too large",
            info.width, info.height
        )));
    }
    if info.pixel_format == PixelFormat::L16 {
        return Err(JpegError::Unsupported("16-bit lossless JPEG".into()));
    }
    if info.coding_process != CodingProcess::Lossless {
        let req = u16::try_from(max_edge).unwrap_or(u16::MAX);
        decoder.scale(req, req).map_err(decode_err)?;
    }
    let pixels = decoder.decode().map_err(decode_err)?;
    let info = decoder
        .info()
        .ok_or_else(|| JpegError::Decode("no frame header".into()))?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let rgb = to_rgb(pixels, w, h, info.pixel_format)?;

    let (tw, th) = fit_within(w, h, max_edge);
    let small = box_downscale(&rgb, w, h, tw, th)?;
    let (small, tw, th) = apply_orientation(&small, tw, th, orientation.unwrap_or(1))?;
    let (tw16, th16) = (
        u16::try_from(tw).map_err(|_| JpegError::Encode("width".into()))?,
        u16::try_from(th).map_err(|_| JpegError::Encode("height".into()))?,
    );
    let mut out = Vec::with_capacity(tw * th / 2 + 1024);
    Encoder::new(&mut out, 80)
        .encode(&small, tw16, th16, ColorType::Rgb)
        .map_err(|e| JpegError::Encode(e.to_string()))?;
    tracing::debug!(
        source_w = info.width,
        source_h = info.height,
        tw,
        th,
        ?orientation,
        bytes = out.len(),
        "encoded thumbnail"
    );
    Ok(out)
}

/// Transform a `w`x`h` RGB buffer as Exif `orientation` prescribes for
/// display: 2 mirror horizontally, 3 rotate 180°, 4 mirror vertically,
/// 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90°
/// counter-clockwise; 1 and unknown values leave it unchanged. Returns the
/// new buffer and its width and height (swapped for 5..=8).
fn apply_orientation(
    rgb: &[u8],
    w: usize,
    h: usize,
    orientation: u16,
) -> Result<(Vec<u8>, usize, usize), JpegError> {
    let n = w
        .checked_mul(h)
        .and_then(|n| n.checked_mul(3))
        .ok_or_else(|| JpegError::Decode("image too large".into()))?;
    let src = rgb
        .get(..n)
        .ok_or_else(|| JpegError::Decode("short pixel buffer".into()))?;
    if !(2..=8).contains(&orientation) || w == 0 || h == 0 {
        return Ok((src.to_vec(), w, h));
    }
    let (ow, oh) = if orientation >= 5 { (h, w) } else { (w, h) };
    // Source coordinates of output pixel (ox, oy); all in range because
    // ox < ow and oy < oh.
    let source = |ox: usize, oy: usize| -> (usize, usize) {
        match orientation {
            2 => (w - 1 - ox, oy),
            3 => (w - 1 - ox, h - 1 - oy),
            4 => (ox, h - 1 - oy),
            5 => (oy, ox),
            6 => (oy, h - 1 - ox),
            7 => (w - 1 - oy, h - 1 - ox),
            8 => (w - 1 - oy, ox),
            _ => (ox, oy),
        }
    };
    let mut out = Vec::with_capacity(n);
    for oy in 0..oh {
        for ox in 0..ow {
            let (sx, sy) = source(ox, oy);
            let at = (sy * w + sx) * 3;
            let px = src
                .get(at..at + 3)
                .ok_or_else(|| JpegError::Decode("orientation index out of range".into()))?;
            out.extend_from_slice(px);
        }
    }
    Ok((out, ow, oh))
}

/// Target size with the long edge at most `max_edge`, aspect preserved.
fn fit_within(w: usize, h: usize, max_edge: u32) -> (usize, usize) {
    let long = w.max(h);
    let max_edge = usize::try_from(max_edge).unwrap_or(usize::MAX);
    if long <= max_edge || long == 0 {
        return (w, h);
    }
    let scale = |v: usize| ((v * max_edge + long / 2) / long).clamp(1, max_edge);
    (scale(w), scale(h))
}

fn to_rgb(pixels: Vec<u8>, w: usize, h: usize, format: PixelFormat) -> Result<Vec<u8>, JpegError> {
    let n = w
        .checked_mul(h)
        .ok_or_else(|| JpegError::Decode("image too large".into()))?;
    let need = n
        .checked_mul(format.pixel_bytes())
        .ok_or_else(|| JpegError::Decode("image too large".into()))?;
    if pixels.len() < need {
        return Err(JpegError::Decode(format!(
            "decoder returned {} bytes, expected {need}",
            pixels.len()
        )));
    }
    match format {
        PixelFormat::RGB24 => Ok(pixels),
        PixelFormat::L8 => Ok(pixels.iter().take(n).flat_map(|&v| [v, v, v]).collect()),
        PixelFormat::CMYK32 => Ok(pixels
            .chunks_exact(4)
            .take(n)
            .flat_map(|p| {
                let (c, m, y, k) = match *p {
                    [c, m, y, k] => (c, m, y, k),
                    _ => (0, 0, 0, 0),
                };
                let ink = |v: u8| {
                    let v = (255 - u32::from(v)) * (255 - u32::from(k));
                    ((v + 127) / 255) as u8
                };
                [ink(c), ink(m), ink(y)]
            })
            .collect()),
        PixelFormat::L16 => Err(JpegError::Unsupported("16-bit lossless JPEG".into())),
    }
}

/// Area-average (box filter) an RGB buffer from `w`x`h` down to `tw`x`th`.
fn box_downscale(
    rgb: &[u8],
    w: usize,
    h: usize,
    tw: usize,
    th: usize,
) -> Result<Vec<u8>, JpegError> {
    if tw == w && th == h {
        return Ok(rgb.get(..w * h * 3).unwrap_or(rgb).to_vec());
    }
    if tw == 0 || th == 0 || tw > w || th > h {
        return Err(JpegError::InvalidArgument("bad thumbnail size".into()));
    }
    let bounds = |i: usize, src: usize, dst: usize| {
        let a = i * src / dst;
        let b = ((i + 1) * src / dst).max(a + 1);
        (a, b)
    };
    let xb: Vec<(usize, usize)> = (0..tw).map(|x| bounds(x, w, tw)).collect();
    let mut out = Vec::with_capacity(tw * th * 3);
    let mut acc = vec![0u64; tw * 3];
    for y in 0..th {
        let (y0, y1) = bounds(y, h, th);
        acc.iter_mut().for_each(|a| *a = 0);
        for sy in y0..y1 {
            let row = rgb
                .get(sy * w * 3..(sy + 1) * w * 3)
                .ok_or_else(|| JpegError::Decode("short pixel buffer".into()))?;
            for (&(x0, x1), a) in xb.iter().zip(acc.chunks_exact_mut(3)) {
                for px in row.get(x0 * 3..x1 * 3).unwrap_or(&[]).chunks_exact(3) {
                    for (s, &v) in a.iter_mut().zip(px) {
                        *s += u64::from(v);
                    }
                }
            }
        }
        let rows = (y1 - y0) as u64;
        for (&(x0, x1), a) in xb.iter().zip(acc.chunks_exact(3)) {
            let area = rows * (x1 - x0) as u64;
            for &s in a {
                out.push(((s + area / 2) / area) as u8);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::fixture::{
        DATE_TIME_ORIGINAL, FixtureSpec, MARKER_COMMENT, MARKER_GPS_LAT, MARKER_MAKE, MARKER_MODEL,
        MARKER_SERIAL, MARKER_TRAILER, jpeg_fixture, jpeg_of_size,
    };
    use exif::{In, Reader, Tag, Value};
    use proptest::prelude::*;
    use std::io::Cursor;

    fn spec(big_endian: bool) -> FixtureSpec {
        FixtureSpec {
            width: 96,
            height: 64,
            seed: 7,
            with_gps: true,
            orientation: 6,
            make_model: true,
            xmp: true,
            comment: true,
            big_endian,
            trailer: false,
        }
    }

    fn read_exif(jpeg: &[u8]) -> Result<exif::Exif, exif::Error> {
        Reader::new().read_from_container(&mut Cursor::new(jpeg))
    }

    fn decode(jpeg: &[u8]) -> (Vec<u8>, jpeg_decoder::ImageInfo) {
        let mut d = Decoder::new(jpeg);
        let px = d.decode().expect("decode");
        (px, d.info().expect("info"))
    }

    fn find(hay: &[u8], needle: &str) -> bool {
        contains(hay, needle.as_bytes())
    }

    /// Offset of `sub` inside `buf`; panics unless `sub` borrows from `buf`.
    fn scan_offset(buf: &[u8], sub: &[u8]) -> usize {
        let start = (sub.as_ptr() as usize)
            .checked_sub(buf.as_ptr() as usize)
            .expect("sub-slice");
        assert!(start + sub.len() <= buf.len(), "sub-slice");
        start
    }

    fn trailer_len(report: &StripReport) -> Option<usize> {
        report.removed_segments.iter().find_map(|r| {
            r.strip_prefix("trailer (")?
                .strip_suffix(" bytes)")?
                .parse()
                .ok()
        })
    }

    fn progressive_jpeg(w: u16, h: u16) -> Vec<u8> {
        let data: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
            .map(|i| ((i * 7919) % 251) as u8)
            .collect();
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 90);
        enc.set_progressive(true);
        enc.encode(&data, w, h, ColorType::Rgb).expect("encode");
        out
    }

    #[test]
    fn fixture_has_all_metadata() {
        for be in [false, true] {
            let input = jpeg_fixture(&spec(be));
            let ex = read_exif(&input).expect("exif in fixture");
            assert_eq!(ex.little_endian(), !be);
            for tag in [
                Tag::Make,
                Tag::Model,
                Tag::Orientation,
                Tag::DateTimeOriginal,
                Tag::BodySerialNumber,
                Tag::GPSLatitude,
                Tag::GPSLatitudeRef,
            ] {
                assert!(ex.get_field(tag, In::PRIMARY).is_some(), "{tag}");
            }
            assert!(
                ex.get_field(Tag::JPEGInterchangeFormat, In::THUMBNAIL)
                    .is_some()
            );
            for m in [MARKER_MAKE, MARKER_SERIAL, MARKER_GPS_LAT, MARKER_COMMENT] {
                assert!(find(&input, m), "{m}");
            }
            decode(&input);
        }
    }

    #[test]
    fn strips_identifying_metadata_both_byte_orders() {
        for be in [false, true] {
            let input = jpeg_fixture(&spec(be));
            let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
            let out = s.to_vec();
            assert_eq!(out.len(), s.len());
            for m in [
                MARKER_MAKE,
                MARKER_MODEL,
                MARKER_SERIAL,
                MARKER_GPS_LAT,
                MARKER_COMMENT,
            ] {
                assert!(!find(&out, m), "{m} survived (be={be})");
            }
            let ex = read_exif(&out).expect("orientation exif");
            assert_eq!(ex.little_endian(), !be);
            let o = ex
                .get_field(Tag::Orientation, In::PRIMARY)
                .expect("orientation");
            assert_eq!(o.value.get_uint(0), Some(6));
            assert_eq!(ex.fields().count(), 1, "only Orientation may remain");
            for tag in [
                Tag::Make,
                Tag::Model,
                Tag::BodySerialNumber,
                Tag::GPSLatitude,
            ] {
                assert!(ex.get_field(tag, In::PRIMARY).is_none());
            }
            assert!(
                ex.get_field(Tag::JPEGInterchangeFormat, In::THUMBNAIL)
                    .is_none()
            );
            let r = &s.report;
            assert_eq!(r.orientation, Some(6));
            assert!(r.removed_gps);
            assert_eq!(r.kept_tags, vec![TAG_ORIENTATION]);
            for seg in ["APP1/Exif", "APP1/XMP", "COM"] {
                assert!(r.removed_segments.iter().any(|s| s == seg), "{seg}");
            }
        }
    }

    #[test]
    fn scan_is_untouched_suffix_and_pixels_identical() {
        for be in [false, true] {
            let input = jpeg_fixture(&spec(be));
            let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
            assert!(!s.scan.is_empty());
            assert!(s.scan.ends_with(&[0xFF, 0xD9]));
            assert_eq!(s.scan, &input[input.len() - s.scan.len()..]);
            assert!(
                !s.report
                    .removed_segments
                    .iter()
                    .any(|r| r.starts_with("trailer"))
            );
            // Zero-copy: the slice points into the input buffer.
            assert_eq!(
                s.scan.as_ptr(),
                input[input.len() - s.scan.len()..].as_ptr()
            );
            let (a, ia) = decode(&input);
            let (b, ib) = decode(&s.to_vec());
            assert_eq!(ia, ib);
            assert!(a == b, "pixels differ");
        }
    }

    #[test]
    fn keep_list_keeps_date_time_original() {
        for be in [false, true] {
            let input = jpeg_fixture(&spec(be));
            let policy = StripPolicy {
                keep_tags: vec![TAG_ORIENTATION, TAG_DATE_TIME_ORIGINAL, TAG_GPS_IFD, 0x0201],
            };
            let s = strip_metadata(&input, &policy).expect("strip");
            let out = s.to_vec();
            let ex = read_exif(&out).expect("exif");
            let dt = ex
                .get_field(Tag::DateTimeOriginal, In::PRIMARY)
                .expect("dto");
            match &dt.value {
                Value::Ascii(v) => assert_eq!(
                    v.first().map(Vec::as_slice),
                    Some(DATE_TIME_ORIGINAL.as_bytes())
                ),
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(
                ex.get_field(Tag::Orientation, In::PRIMARY)
                    .and_then(|f| f.value.get_uint(0)),
                Some(6)
            );
            // Structural pointers are never copied even if asked for.
            assert!(ex.get_field(Tag::GPSLatitude, In::PRIMARY).is_none());
            assert_eq!(
                s.report.kept_tags,
                vec![TAG_ORIENTATION, TAG_DATE_TIME_ORIGINAL]
            );
            assert!(!find(&out, MARKER_SERIAL));
        }
    }

    #[test]
    fn keeps_out_of_line_ifd0_value() {
        // Make (12 bytes) is stored out of line; keep it in both byte orders.
        for be in [false, true] {
            let input = jpeg_fixture(&spec(be));
            let policy = StripPolicy {
                keep_tags: vec![0x010F],
            };
            let out = strip_metadata(&input, &policy).expect("strip").to_vec();
            let ex = read_exif(&out).expect("exif");
            let make = ex.get_field(Tag::Make, In::PRIMARY).expect("make");
            assert_eq!(
                make.display_value().to_string(),
                format!("\"{MARKER_MAKE}\"")
            );
            assert!(ex.get_field(Tag::Orientation, In::PRIMARY).is_none());
        }
    }

    #[test]
    fn empty_keep_list_emits_no_exif() {
        let input = jpeg_fixture(&spec(false));
        let s = strip_metadata(&input, &StripPolicy { keep_tags: vec![] }).expect("strip");
        let out = s.to_vec();
        assert!(!find(&out, "Exif"));
        assert!(read_exif(&out).is_err());
        assert!(s.report.kept_tags.is_empty());
        assert_eq!(s.report.orientation, Some(6));
        decode(&out);
    }

    #[test]
    fn no_orientation_and_no_gps() {
        let mut sp = spec(true);
        sp.orientation = 0;
        sp.with_gps = false;
        sp.xmp = false;
        let input = jpeg_fixture(&sp);
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        assert_eq!(s.report.orientation, None);
        assert!(!s.report.removed_gps);
        assert!(!find(&s.to_vec(), "Exif"));
    }

    #[test]
    fn multiple_exif_segments_all_handled() {
        let first = jpeg_fixture(&spec(false));
        let mut sp = spec(true);
        sp.orientation = 3;
        let second = jpeg_fixture(&sp);
        // Splice the big-endian Exif APP1 of `second` after the Exif of `first`.
        let seg_len =
            |d: &[u8], at: usize| usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]])) + 2;
        let exif2 = &second[2..2 + seg_len(&second, 2)];
        let at = 2 + seg_len(&first, 2);
        let mut input = first[..at].to_vec();
        input.extend_from_slice(exif2);
        input.extend_from_slice(&first[at..]);
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        let out = s.to_vec();
        assert_eq!(
            s.report
                .removed_segments
                .iter()
                .filter(|s| *s == "APP1/Exif")
                .count(),
            2
        );
        assert_eq!(out.windows(6).filter(|w| w == b"Exif\0\0").count(), 1);
        assert_eq!(s.report.orientation, Some(6), "first segment wins");
        let ex = read_exif(&out).expect("exif");
        assert!(ex.little_endian());
        assert_eq!(
            ex.get_field(Tag::Orientation, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0)),
            Some(6)
        );
        assert!(!find(&out, MARKER_SERIAL));
        decode(&out);
    }

    #[test]
    fn other_app_segments_dropped_colour_segments_kept() {
        let base = jpeg_fixture(&spec(false));
        let mut input = base[..2].to_vec();
        push_segment(&mut input, 0xED, b"Photoshop 3.0\0IPTC-secret").unwrap();
        push_segment(&mut input, 0xE2, b"ICC_PROFILE\0\x01\x01fake-icc").unwrap();
        push_segment(&mut input, 0xE2, b"MPF\0secret").unwrap();
        push_segment(&mut input, 0xEE, b"Adobe\0\x64\0\0\0\0\x01").unwrap();
        push_segment(&mut input, 0xE5, b"vendor-secret").unwrap();
        push_segment(&mut input, 0xE0, b"JFXX\0\x10thumb-secret").unwrap();
        input.extend_from_slice(&base[2..]);
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        let out = s.to_vec();
        assert!(!find(&out, "secret"));
        assert!(find(&out, "ICC_PROFILE\0"));
        assert!(find(&out, "Adobe\0"));
        assert!(find(&out, "JFIF\0"));
        for seg in ["APP13", "APP2/MPF", "APP5", "APP0/JFXX"] {
            assert!(s.report.removed_segments.iter().any(|s| s == seg), "{seg}");
        }
    }

    #[test]
    fn jfif_thumbnail_removed() {
        let base = jpeg_fixture(&spec(false));
        let mut jfif = b"JFIF\0\x01\x02\0\0\x01\0\x01\x02\x01".to_vec();
        jfif.extend_from_slice(b"rgbrgb"); // 2x1 thumbnail
        let mut input = base[..2].to_vec();
        push_segment(&mut input, 0xE0, &jfif).unwrap();
        input.extend_from_slice(&base[2..]);
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        assert!(!find(&s.head, "rgbrgb"));
        assert!(
            s.report
                .removed_segments
                .iter()
                .any(|s| s == "APP0/JFIF-thumbnail")
        );
        decode(&s.to_vec());
    }

    #[test]
    fn malformed_exif_is_an_error() {
        let input = jpeg_fixture(&spec(false));
        // Exif APP1 payload starts at 6; TIFF header at 12; IFD0 offset at 16..20.
        assert_eq!(&input[6..14], b"Exif\0\0II");
        let mut bad = input.clone();
        bad[16..20].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        assert!(matches!(
            strip_metadata(&bad, &StripPolicy::default()),
            Err(JpegError::Malformed(_))
        ));
        let mut bad = input.clone();
        bad[12] = b'X';
        assert!(matches!(
            strip_metadata(&bad, &StripPolicy::default()),
            Err(JpegError::Malformed(_))
        ));
        // Exif IFD pointer looping back to IFD0.
        let mut looped = input.clone();
        let ptr = looped
            .windows(4)
            .position(|w| w == [0x69, 0x87, 4, 0])
            .expect("Exif pointer entry");
        looped[ptr + 8..ptr + 12].copy_from_slice(&8u32.to_le_bytes());
        assert!(matches!(
            strip_metadata(&looped, &StripPolicy::default()),
            Err(JpegError::Malformed(m)) if m.contains("loop")
        ));
        // Kept out-of-line value pointing outside the TIFF data.
        let mut oob = input.clone();
        let make = oob
            .windows(4)
            .position(|w| w == [0x0F, 0x01, 2, 0])
            .expect("Make entry");
        oob[make + 8..make + 12].copy_from_slice(&60_000u32.to_le_bytes());
        let keep_make = StripPolicy {
            keep_tags: vec![0x010F],
        };
        assert!(matches!(
            strip_metadata(&oob, &keep_make),
            Err(JpegError::Malformed(_))
        ));
        // Segment length running past the end of the input.
        let mut long = input[..40].to_vec();
        long[4..6].copy_from_slice(&0xFFF0u16.to_be_bytes());
        assert!(matches!(
            strip_metadata(&long, &StripPolicy::default()),
            Err(JpegError::Truncated { .. })
        ));
        assert!(matches!(
            strip_metadata(b"not a jpeg", &StripPolicy::default()),
            Err(JpegError::NotJpeg)
        ));
    }

    #[test]
    fn every_truncation_is_handled() {
        let mut sp = spec(true);
        sp.width = 16;
        sp.height = 16;
        let input = jpeg_fixture(&sp);
        strip_metadata(&input, &StripPolicy::default()).expect("strip");
        // Every proper prefix lacks the EOI and must be rejected.
        for n in 0..input.len() {
            let r = strip_metadata(&input[..n], &StripPolicy::default());
            assert!(r.is_err(), "prefix {n} accepted");
            let _ = thumbnail(&input[..n], 8, Some(6));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_header_corruption_never_panics(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
            be in any::<bool>(),
        ) {
            let mut sp = spec(be);
            sp.width = 16;
            sp.height = 16;
            let mut input = jpeg_fixture(&sp);
            let header_len = input.len()
                - strip_metadata(&input, &StripPolicy::default()).map(|s| s.scan.len()).unwrap_or(0);
            for (idx, val) in flips {
                let i = idx.index(header_len);
                input[i] = val;
            }
            let policy = StripPolicy { keep_tags: vec![TAG_ORIENTATION, TAG_DATE_TIME_ORIGINAL, 0x010F] };
            if let Ok(s) = strip_metadata(&input, &policy) {
                let start = scan_offset(&input, s.scan);
                prop_assert_eq!(s.scan, &input[start..start + s.scan.len()]);
                prop_assert!(s.scan.ends_with(&[0xFF, 0xD9]));
                prop_assert!(s.head.starts_with(&[0xFF, 0xD8]));
            }
        }
    }

    #[test]
    fn thumbnail_fits_and_has_no_metadata() {
        let mut sp = spec(false);
        sp.width = 640;
        sp.height = 480;
        let input = jpeg_fixture(&sp);
        for max_edge in [100u32, 128, 320, 1000] {
            let t = thumbnail(&input, max_edge, None).expect("thumbnail");
            let (_, info) = decode(&t);
            let long = u32::from(info.width.max(info.height));
            assert!(long <= max_edge);
            assert_eq!(long, max_edge.min(640));
            assert_eq!(info.pixel_format, PixelFormat::RGB24);
            assert!(!find(&t, "Exif") && !find(&t, MARKER_MAKE) && !find(&t, MARKER_GPS_LAT));
        }
        assert!(matches!(
            thumbnail(&input, 0, None),
            Err(JpegError::InvalidArgument(_))
        ));
        assert!(matches!(
            thumbnail(b"GIF89a", 10, None),
            Err(JpegError::NotJpeg)
        ));
    }

    #[test]
    fn thumbnail_of_grayscale_and_cmyk() {
        let (w, h) = (200u16, 150u16);
        for (ct, bpp) in [
            (ColorType::Luma, 1usize),
            (ColorType::Cmyk, 4),
            (ColorType::CmykAsYcck, 4),
        ] {
            let data: Vec<u8> = (0..usize::from(w) * usize::from(h) * bpp)
                .map(|i| (i % 251) as u8)
                .collect();
            let mut src = Vec::new();
            Encoder::new(&mut src, 90)
                .encode(&data, w, h, ct)
                .expect("encode");
            let t = thumbnail(&src, 64, Some(1)).expect("thumbnail");
            let (_, info) = decode(&t);
            assert_eq!(info.pixel_format, PixelFormat::RGB24, "{ct:?}");
            assert_eq!((info.width, info.height), (64, 48));
        }
    }

    #[test]
    fn box_filter_averages() {
        let rgb = [0u8, 0, 0, 255, 255, 255, 10, 20, 30, 30, 40, 50];
        let out = box_downscale(&rgb, 2, 2, 1, 1).unwrap();
        assert_eq!(out, vec![74, 79, 84]);
        assert_eq!(fit_within(4000, 3000, 256), (256, 192));
        assert_eq!(fit_within(3000, 4000, 256), (192, 256));
        assert_eq!(fit_within(10000, 1, 100), (100, 1));
        assert_eq!(fit_within(50, 40, 100), (50, 40));
    }

    #[test]
    fn detects_formats() {
        let jpeg = jpeg_fixture(&spec(false));
        assert_eq!(detect_format(&jpeg), ImageFormat::Jpeg);
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(detect_format(&heic), ImageFormat::Heic);
        let mut mif1 = vec![0, 0, 0, 20];
        mif1.extend_from_slice(b"ftypmif1\0\0\0\0heic");
        assert_eq!(detect_format(&mif1), ImageFormat::Heic);
        let mut avif = vec![0, 0, 0, 24];
        avif.extend_from_slice(b"ftypavif\0\0\0\0avifmif1");
        assert_eq!(detect_format(&avif), ImageFormat::Unknown);
        let mut mp4 = vec![0, 0, 0, 20];
        mp4.extend_from_slice(b"ftypisom\0\0\0\0mp41");
        assert_eq!(detect_format(&mp4), ImageFormat::Unknown);
        assert_eq!(detect_format(b"garbage bytes here"), ImageFormat::Unknown);
        assert_eq!(detect_format(&[]), ImageFormat::Unknown);
        assert_eq!(detect_format(&[0xFF, 0xD8]), ImageFormat::Unknown);
    }

    #[test]
    fn trailer_after_eoi_is_dropped() {
        for be in [false, true] {
            let mut sp = spec(be);
            let plain = jpeg_fixture(&sp);
            sp.trailer = true;
            let input = jpeg_fixture(&sp);
            assert!(input.starts_with(&plain));
            assert!(find(&input, MARKER_TRAILER));
            assert!(find(&input, "MotionPhoto_Data"));
            // Two Exif blocks with GPS in the input: the trailer's is separate.
            assert_eq!(input.windows(6).filter(|w| w == b"Exif\0\0").count(), 2);

            let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
            let out = s.to_vec();
            assert!(!find(&out, MARKER_TRAILER));
            assert!(!find(&out, "MotionPhoto_Data"));
            assert!(!find(&out, MARKER_MAKE) && !find(&out, MARKER_GPS_LAT));
            assert_eq!(out.windows(6).filter(|w| w == b"Exif\0\0").count(), 1);
            assert_eq!(out.windows(2).filter(|w| *w == [0xFF, 0xD8]).count(), 1);
            let ex = read_exif(&out).expect("exif");
            assert_eq!(ex.fields().count(), 1, "only Orientation may remain");
            assert!(ex.get_field(Tag::GPSLatitude, In::PRIMARY).is_none());
            assert!(out.ends_with(&[0xFF, 0xD9]));

            // Zero-copy sub-slice ending right after the primary EOI.
            let start = scan_offset(&input, s.scan);
            assert_eq!(start + s.scan.len(), plain.len());
            assert_eq!(s.scan, &input[start..plain.len()]);
            assert_eq!(trailer_len(&s.report), Some(input.len() - plain.len()));
            assert_eq!(
                s.report.removed_segments.last().map(String::as_str),
                Some(format!("trailer ({} bytes)", input.len() - plain.len()).as_str())
            );
            // Same output as for the file without trailer.
            assert_eq!(
                out,
                strip_metadata(&plain, &StripPolicy::default())
                    .expect("strip")
                    .to_vec()
            );
            let (a, ia) = decode(&input);
            let (b, ib) = decode(&out);
            assert_eq!(ia, ib);
            assert!(a == b, "pixels differ");
        }
    }

    #[test]
    fn progressive_with_trailer() {
        let base = progressive_jpeg(120, 80);
        // Several scans: several SOS markers after the first one.
        assert!(base.windows(2).filter(|w| *w == [0xFF, 0xDA]).count() > 2);
        let mut input = base.clone();
        input.extend_from_slice(&jpeg_fixture(&spec(false)));
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        let out = s.to_vec();
        assert_eq!(trailer_len(&s.report), Some(input.len() - base.len()));
        assert_eq!(scan_offset(&input, s.scan) + s.scan.len(), base.len());
        assert!(!find(&out, MARKER_MAKE));
        let (a, _) = decode(&base);
        let (b, _) = decode(&out);
        assert!(a == b, "pixels differ");
    }

    #[test]
    fn ff_d9_inside_segment_between_scans_is_not_eoi() {
        let base = jpeg_fixture(&spec(false));
        let body = &base[..base.len() - 2];
        let mut input = body.to_vec();
        // A COM after the scan data whose payload contains FF D9.
        push_segment(&mut input, 0xFE, b"a\xFF\xD9b").unwrap();
        input.extend_from_slice(&[0xFF, 0xFF, 0xD9]); // fill byte before EOI
        let eoi_end = input.len();
        input.extend_from_slice(b"junk after EOI");
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        assert_eq!(scan_offset(&input, s.scan) + s.scan.len(), eoi_end);
        assert_eq!(trailer_len(&s.report), Some(14));
        let (a, _) = decode(&base);
        let (b, _) = decode(&s.to_vec());
        assert!(a == b, "pixels differ");
    }

    #[test]
    fn restart_markers_with_trailer() {
        let (w, h) = (200u16, 120u16);
        let data: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
            .map(|i| ((i * 31) % 253) as u8)
            .collect();
        let mut base = Vec::new();
        let mut enc = Encoder::new(&mut base, 90);
        enc.set_restart_interval(2);
        enc.encode(&data, w, h, ColorType::Rgb).expect("encode");
        assert!(base.windows(2).any(|w| w == [0xFF, 0xD0]));
        let mut input = base.clone();
        input.extend_from_slice(&jpeg_fixture(&spec(true)));
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        assert_eq!(scan_offset(&input, s.scan) + s.scan.len(), base.len());
        assert_eq!(trailer_len(&s.report), Some(input.len() - base.len()));
        let (a, _) = decode(&base);
        let (b, _) = decode(&s.to_vec());
        assert!(a == b, "pixels differ");
    }

    /// Byte-by-byte model of [`find_eoi`].
    fn find_eoi_reference(d: &[u8], mut pos: usize) -> Option<usize> {
        while pos < d.len() {
            if d[pos] != 0xFF {
                pos += 1;
                continue;
            }
            match *d.get(pos + 1)? {
                0x00 | 0xD0..=0xD7 | 0xFF => pos += 1,
                0xD9 => return Some(pos + 2),
                0x01 => pos += 2,
                0xC4 | 0xCC | 0xDA..=0xDD | 0xE0..=0xEF | 0xFE => {
                    let len = usize::from(u16::from_be_bytes([*d.get(pos + 2)?, *d.get(pos + 3)?]));
                    if len < 2 || pos + 2 + len > d.len() {
                        return None;
                    }
                    pos += 2 + len;
                }
                _ => return None,
            }
        }
        None
    }

    /// Pieces of synthetic scan data: long runs of entropy-like bytes (with
    /// 0xFF stuffed as FF 00), EOI, RST, fill bytes, COM segments with
    /// arbitrary payload, arbitrary markers and bogus segment lengths.
    fn scan_piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (1usize..400, any::<u64>()).prop_map(|(n, seed)| {
                let mut x = seed | 1;
                let mut v = Vec::with_capacity(n + n / 64);
                for _ in 0..n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let b = (x >> 24) as u8;
                    v.push(b);
                    if b == 0xFF {
                        v.push(0);
                    }
                }
                v
            }),
            1 => Just(vec![0xFF, 0xD9]),
            1 => (0u8..8).prop_map(|n| vec![0xFF, 0xD0 + n]),
            1 => Just(vec![0xFF, 0xFF]),
            1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(|p| {
                let mut v = Vec::new();
                push_segment(&mut v, 0xFE, &p).unwrap();
                v
            }),
            1 => any::<u8>().prop_map(|m| vec![0xFF, m]),
            1 => any::<u16>().prop_map(|l| {
                let [hi, lo] = l.to_be_bytes();
                vec![0xFF, 0xE1, hi, lo]
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The block prefilter never changes the result, wherever markers
        /// fall relative to block boundaries.
        #[test]
        fn find_eoi_matches_reference(
            pieces in proptest::collection::vec(scan_piece(), 0..12),
            from in 0usize..300,
        ) {
            let bytes = pieces.concat();
            let from = from.min(bytes.len());
            let got = find_eoi(&bytes, from).ok();
            prop_assert_eq!(got, find_eoi_reference(&bytes, from));
        }
    }

    #[test]
    fn missing_or_bad_eoi_is_an_error() {
        let base = jpeg_fixture(&spec(false));
        let body = &base[..base.len() - 2];
        for tail in [&[][..], &[0xFF], &[0xFF, 0xFF], &[0xFF, 0x00]] {
            let mut input = body.to_vec();
            input.extend_from_slice(tail);
            assert!(
                matches!(
                    strip_metadata(&input, &StripPolicy::default()),
                    Err(JpegError::Truncated { .. })
                ),
                "{tail:?}"
            );
        }
        // A segment between scans whose length runs past the end.
        let mut input = body.to_vec();
        input.extend_from_slice(&[0xFF, 0xFE, 0x10, 0x00, b'x', 0xFF, 0xD9]);
        assert!(matches!(
            strip_metadata(&input, &StripPolicy::default()),
            Err(JpegError::Truncated { .. })
        ));
        // A marker that cannot appear before the EOI (SOI, SOF).
        for marker in [0xD8u8, 0xC0] {
            let mut input = body.to_vec();
            input.extend_from_slice(&[0xFF, marker, 0x00, 0x04, 0, 0, 0xFF, 0xD9]);
            assert!(
                matches!(
                    strip_metadata(&input, &StripPolicy::default()),
                    Err(JpegError::Malformed(_))
                ),
                "{marker:02X}"
            );
        }
    }

    /// Exact pixel check of all eight orientations on a 3x2 image.
    #[test]
    fn orientation_transforms_exact() {
        // Pixels labelled by their index: a b c / d e f.
        let src: Vec<u8> = (0u8..6).flat_map(|v| [v, v, v]).collect();
        let expect: [(u16, usize, usize, [u8; 6]); 9] = [
            (1, 3, 2, [0, 1, 2, 3, 4, 5]),
            (2, 3, 2, [2, 1, 0, 5, 4, 3]),
            (3, 3, 2, [5, 4, 3, 2, 1, 0]),
            (4, 3, 2, [3, 4, 5, 0, 1, 2]),
            (5, 2, 3, [0, 3, 1, 4, 2, 5]),
            (6, 2, 3, [3, 0, 4, 1, 5, 2]),
            (7, 2, 3, [5, 2, 4, 1, 3, 0]),
            (8, 2, 3, [2, 5, 1, 4, 0, 3]),
            (9, 3, 2, [0, 1, 2, 3, 4, 5]),
        ];
        for (o, ew, eh, labels) in expect {
            let (out, w, h) = apply_orientation(&src, 3, 2, o).unwrap();
            assert_eq!((w, h), (ew, eh), "orientation {o}");
            let got: Vec<u8> = out.chunks_exact(3).map(|p| p[0]).collect();
            assert_eq!(got, labels, "orientation {o}");
        }
        assert!(apply_orientation(&src[..5], 3, 2, 6).is_err());
    }

    #[test]
    fn thumbnail_orientation_swaps_dimensions() {
        let mut sp = spec(false);
        sp.width = 640;
        sp.height = 480;
        let input = jpeg_fixture(&sp);
        let dims = |o: Option<u16>| {
            let (_, i) = decode(&thumbnail(&input, 256, o).expect("thumbnail"));
            (i.width, i.height)
        };
        assert_eq!(dims(Some(1)), (256, 192));
        assert_eq!(dims(None), (256, 192));
        assert_eq!(dims(Some(0)), (256, 192));
        assert_eq!(dims(Some(42)), (256, 192));
        for o in 2..=4 {
            assert_eq!(dims(Some(o)), (256, 192), "orientation {o}");
        }
        for o in 5..=8 {
            assert_eq!(dims(Some(o)), (192, 256), "orientation {o}");
        }
        let t = thumbnail(&input, 256, Some(6)).expect("thumbnail");
        assert!(!find(&t, "Exif") && !find(&t, MARKER_MAKE));
    }

    /// End-to-end pixel mapping: a 64x32 image with four coloured quadrants
    /// (red, green / blue, white) through every orientation.
    #[test]
    fn thumbnail_orientation_pixel_mapping() {
        const RED: [u8; 3] = [255, 0, 0];
        const GREEN: [u8; 3] = [0, 255, 0];
        const BLUE: [u8; 3] = [0, 0, 255];
        const WHITE: [u8; 3] = [255, 255, 255];
        let (w, h) = (64usize, 32usize);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(match (x < w / 2, y < h / 2) {
                    (true, true) => &RED,
                    (false, true) => &GREEN,
                    (true, false) => &BLUE,
                    (false, false) => &WHITE,
                });
            }
        }
        let mut src = Vec::new();
        Encoder::new(&mut src, 95)
            .encode(&rgb, w as u16, h as u16, ColorType::Rgb)
            .expect("encode");
        // Expected colours of the output quadrants TL, TR, BL, BR.
        let cases: [(u16, [[u8; 3]; 4]); 8] = [
            (1, [RED, GREEN, BLUE, WHITE]),
            (2, [GREEN, RED, WHITE, BLUE]),
            (3, [WHITE, BLUE, GREEN, RED]),
            (4, [BLUE, WHITE, RED, GREEN]),
            (5, [RED, BLUE, GREEN, WHITE]),
            (6, [BLUE, RED, WHITE, GREEN]),
            (7, [WHITE, GREEN, BLUE, RED]),
            (8, [GREEN, WHITE, RED, BLUE]),
        ];
        for (o, quads) in cases {
            let t = thumbnail(&src, 64, Some(o)).expect("thumbnail");
            let (px, info) = decode(&t);
            let (tw, th) = (usize::from(info.width), usize::from(info.height));
            assert_eq!((tw, th), if o >= 5 { (h, w) } else { (w, h) });
            let at = |x: usize, y: usize| {
                let i = (y * tw + x) * 3;
                [px[i], px[i + 1], px[i + 2]]
            };
            let centres = [
                (tw / 4, th / 4),
                (3 * tw / 4, th / 4),
                (tw / 4, 3 * th / 4),
                (3 * tw / 4, 3 * th / 4),
            ];
            for ((x, y), want) in centres.into_iter().zip(quads) {
                let got = at(x, y);
                let close = got
                    .iter()
                    .zip(want)
                    .all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= 40);
                assert!(close, "orientation {o} at ({x},{y}): {got:?} != {want:?}");
            }
        }
    }

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
