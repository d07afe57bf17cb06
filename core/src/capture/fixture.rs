//! Deterministic JPEG test fixtures for the capture pipeline, generated in
//! code so no binary files live in the repository. [`jpeg_fixture`] encodes a
//! seeded pseudo-random noisy RGB image and splices in the privacy-relevant
//! metadata a real phone photo carries (an Exif APP1 with camera make/model,
//! serial number, capture time, GPS IFD and an IFD1 embedded thumbnail, an
//! XMP packet with a GPS position, and a COM comment), each part switchable
//! through [`FixtureSpec`], optionally followed after the EOI by a
//! motion-photo style trailer (a second JPEG with its own GPS Exif plus
//! "MotionPhoto_Data" bytes); [`jpeg_of_size`] produces a GPS-bearing JPEG of a
//! requested byte size (e.g. 8 MB or 24 MB) for performance tests. The
//! `MARKER_*` constants are the strings tests search for to prove metadata
//! was removed.

use jpeg_encoder::{ColorType, Encoder};

/// Exif Make (IFD0).
pub const MARKER_MAKE: &str = "WardTestCam";
/// Exif Model (IFD0).
pub const MARKER_MODEL: &str = "Model-X";
/// Exif BodySerialNumber (0xA431, Exif sub-IFD).
pub const MARKER_SERIAL: &str = "SN-123456";
/// Appears (as an XML element name) only in the XMP packet.
pub const MARKER_GPS_LAT: &str = "GPSLatitude";
/// Content of the COM segment.
pub const MARKER_COMMENT: &str = "camera comment";
/// Exif DateTimeOriginal (0x9003, Exif sub-IFD), without the trailing NUL.
pub const DATE_TIME_ORIGINAL: &str = "2024:05:06 07:08:09";
/// GPSLatitude rationals (degrees, minutes, seconds) with GPSLatitudeRef "N".
pub const GPS_LATITUDE: [(u32, u32); 3] = [(51, 1), (30, 1), (0, 1)];
/// GPSLongitude rationals with GPSLongitudeRef "W".
pub const GPS_LONGITUDE: [(u32, u32); 3] = [(0, 1), (7, 1), (3960, 100)];
/// Appears only in the data appended after the EOI when
/// [`FixtureSpec::trailer`] is set.
pub const MARKER_TRAILER: &str = "TRAILER-MARKER";
/// Raw bytes closing the trailer, like a Samsung motion-photo video block.
const TRAILER_TAIL: &[u8] = b"MotionPhoto_Data TRAILER-MARKER";

const XMP_PACKET: &str = concat!(
    "http://ns.adobe.com/xap/1.0/\0",
    "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>",
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF ",
    "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">",
    "<rdf:Description rdf:about=\"\" xmlns:exif=\"http://ns.adobe.com/exif/1.0/\">",
    "<exif:GPSLatitude>51,30.0N</exif:GPSLatitude>",
    "<exif:GPSLongitude>0,7.66W</exif:GPSLongitude>",
    "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
);

/// Amplitude of the per-channel noise added to a smooth gradient. Chosen so
/// quality-95 output is about 0.85 bytes per pixel, so an 8 MB fixture is
/// roughly 10 MP, close to a real phone photo of that size.
const NOISE_AMPLITUDE: u32 = 12;

/// What [`jpeg_fixture`] puts into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureSpec {
    /// Image width, clamped to 1..=65535.
    pub width: u32,
    /// Image height, clamped to 1..=65535.
    pub height: u32,
    /// Seed of the pixel noise.
    pub seed: u64,
    /// Add a GPS IFD (lat/lon rationals, GPSLatitudeRef "N").
    pub with_gps: bool,
    /// Orientation tag value; 0 omits the tag.
    pub orientation: u16,
    /// Add Make and Model to IFD0.
    pub make_model: bool,
    /// Add an XMP APP1 packet mentioning GPSLatitude.
    pub xmp: bool,
    /// Add a COM segment.
    pub comment: bool,
    /// Write the Exif TIFF structure big-endian ("MM") instead of "II".
    pub big_endian: bool,
    /// Append after the primary image's EOI a second small JPEG (16x12,
    /// with its own full Exif including GPS, XMP and comment) followed by
    /// the bytes "MotionPhoto_Data TRAILER-MARKER", the way MPF files and
    /// motion photos carry extra images or video. Without this flag the
    /// file ends at its EOI.
    pub trailer: bool,
}

impl Default for FixtureSpec {
    fn default() -> Self {
        Self {
            width: 64,
            height: 48,
            seed: 1,
            with_gps: true,
            orientation: 6,
            make_model: true,
            xmp: true,
            comment: true,
            big_endian: false,
            trailer: false,
        }
    }
}

/// A JPEG per `spec`: SOI, Exif APP1, XMP APP1, COM, then the encoder's
/// own JFIF APP0, tables, scan and EOI, then the optional trailer. The Exif
/// APP1 is always present (DateTimeOriginal, BodySerialNumber, IFD1
/// thumbnail); the other parts follow the spec flags. The bytes up to the
/// EOI do not depend on `spec.trailer`.
pub fn jpeg_fixture(spec: &FixtureSpec) -> Vec<u8> {
    let w = clamp_dim(spec.width);
    let h = clamp_dim(spec.height);
    let encoded = encode_rgb(&noise_image(w, h, spec.seed), w, h, 95);
    let exif = exif_payload(spec);
    let mut out = Vec::with_capacity(encoded.len() + exif.len() + XMP_PACKET.len() + 64);
    out.extend_from_slice(&[0xFF, 0xD8]);
    push_segment(&mut out, 0xE1, &exif);
    if spec.xmp {
        push_segment(&mut out, 0xE1, XMP_PACKET.as_bytes());
    }
    if spec.comment {
        push_segment(&mut out, 0xFE, MARKER_COMMENT.as_bytes());
    }
    out.extend_from_slice(encoded.get(2..).unwrap_or_default());
    if spec.trailer {
        let secondary = jpeg_fixture(&FixtureSpec {
            width: 16,
            height: 12,
            seed: spec.seed ^ 0xA5A5,
            with_gps: true,
            trailer: false,
            ..*spec
        });
        out.extend_from_slice(&secondary);
        out.extend_from_slice(TRAILER_TAIL);
    }
    out
}

/// A valid JPEG with full metadata (GPS included) whose length is at least
/// `target_bytes` and, for targets above a few kilobytes, within about 10 %
/// of it. Dimensions (4:3) are derived from a calibration encode and refined
/// if needed; tiny targets yield the smallest fixture.
pub fn jpeg_of_size(target_bytes: usize, seed: u64) -> Vec<u8> {
    let mut spec = FixtureSpec {
        width: 16,
        height: 12,
        seed,
        trailer: false,
        ..FixtureSpec::default()
    };
    let smallest = jpeg_fixture(&spec);
    if smallest.len() >= target_bytes {
        return smallest;
    }
    let overhead = smallest.len() as f64;
    let target = target_bytes as f64;
    // Aim 4 % above the target so small estimation errors stay in range.
    let aim = target * 1.04;

    // Bytes per pixel of the noise at quality 95.
    let (cw, ch) = (1024u32, 768u32);
    let calib = encode_rgb(&noise_image(cw, ch, seed), cw, ch, 95);
    let mut bpp = (calib.len() as f64 / f64::from(cw * ch)).max(0.05);

    let mut best = smallest;
    for _ in 0..6 {
        let pixels = ((aim - overhead).max(1.0) / bpp).max(192.0);
        let width = (pixels * 4.0 / 3.0).sqrt().round().clamp(16.0, 65535.0);
        let height = (width * 0.75).round().clamp(12.0, 65535.0);
        spec.width = width as u32;
        spec.height = height as u32;
        let candidate = jpeg_fixture(&spec);
        let len = candidate.len() as f64;
        let done = len >= target && len <= target * 1.10;
        let at_cap = spec.width >= 65535 || spec.height >= 65535;
        bpp = ((len - overhead).max(1.0) / (width * height)).max(0.05);
        if len >= best.len() as f64 || done {
            best = candidate;
        }
        if done || at_cap {
            break;
        }
    }
    best
}

fn clamp_dim(v: u32) -> u32 {
    v.clamp(1, 65535)
}

/// Smooth RGB gradient plus seeded xorshift noise.
fn noise_image(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let (wu, hu) = (w as usize, h as usize);
    let mut rng = XorShift::new(seed);
    let mut out = Vec::with_capacity(wu * hu * 3);
    let span = 2 * NOISE_AMPLITUDE + 1;
    let mut bits = 0u64;
    let mut left = 0u32;
    for y in 0..hu {
        let g = (y * 255 / hu.max(1)) as i32;
        for x in 0..wu {
            let r = (x * 255 / wu.max(1)) as i32;
            let b = ((x + y) * 255 / (wu + hu).max(1)) as i32;
            for base in [r, g, b] {
                if left == 0 {
                    bits = rng.next_u64();
                    left = 8;
                }
                let byte = (bits & 0xFF) as u32;
                bits >>= 8;
                left -= 1;
                let noise = ((byte * span) >> 8) as i32 - NOISE_AMPLITUDE as i32;
                out.push((base + noise).clamp(0, 255) as u8);
            }
        }
    }
    out
}

struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // xorshift must not start at 0; mix the seed so nearby seeds differ.
        let s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        Self(if s == 0 { 0x2545_F491_4F6C_DD1D } else { s })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn encode_rgb(rgb: &[u8], w: u32, h: u32, quality: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgb.len() / 2 + 1024);
    let (w16, h16) = (clamp_dim(w) as u16, clamp_dim(h) as u16);
    Encoder::new(&mut out, quality)
        .encode(rgb, w16, h16, ColorType::Rgb)
        .expect("non-zero dimensions and a buffer of exactly w*h*3 bytes by construction");
    out
}

fn push_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    let len = u16::try_from(payload.len() + 2)
        .expect("fixture segments are far below 64 KiB by construction");
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------------------
// Minimal TIFF/Exif writer (independent of the parser in jpeg.rs)
// ---------------------------------------------------------------------------

enum Val<'a> {
    Byte(&'a [u8]),
    Undefined(&'a [u8]),
    Ascii(&'a str),
    Short(u16),
    Long(u32),
    Rational(&'a [(u32, u32)]),
}

impl Val<'_> {
    fn typ(&self) -> u16 {
        match self {
            Val::Byte(_) => 1,
            Val::Undefined(_) => 7,
            Val::Ascii(_) => 2,
            Val::Short(_) => 3,
            Val::Long(_) => 4,
            Val::Rational(_) => 5,
        }
    }

    fn count(&self) -> u32 {
        let n = match self {
            Val::Byte(b) | Val::Undefined(b) => b.len(),
            Val::Ascii(s) => s.len() + 1,
            Val::Short(_) | Val::Long(_) => 1,
            Val::Rational(r) => r.len(),
        };
        n as u32
    }

    fn bytes(&self, be: bool) -> Vec<u8> {
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        match self {
            Val::Byte(b) | Val::Undefined(b) => b.to_vec(),
            Val::Ascii(s) => {
                let mut v = s.as_bytes().to_vec();
                v.push(0);
                v
            }
            Val::Short(v) => {
                if be {
                    v.to_be_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                }
            }
            Val::Long(v) => u32b(*v).to_vec(),
            Val::Rational(r) => r
                .iter()
                .flat_map(|&(n, d)| u32b(n).into_iter().chain(u32b(d)))
                .collect(),
        }
    }
}

type Entries<'a> = Vec<(u16, Val<'a>)>;

fn padded(len: usize) -> usize {
    len + len % 2
}

fn ifd_len(entries: &Entries<'_>) -> usize {
    let data: usize = entries
        .iter()
        .map(|(_, v)| v.bytes(false).len())
        .filter(|&l| l > 4)
        .map(padded)
        .sum();
    2 + entries.len() * 12 + 4 + data
}

/// Append an IFD at the end of `tiff` (whose index 0 is the TIFF header).
fn write_ifd(tiff: &mut Vec<u8>, be: bool, entries: &Entries<'_>, next: u32) {
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut data_off = tiff.len() + 2 + entries.len() * 12 + 4;
    let mut data = Vec::new();
    tiff.extend_from_slice(&u16b(entries.len() as u16));
    for (tag, val) in entries {
        let bytes = val.bytes(be);
        tiff.extend_from_slice(&u16b(*tag));
        tiff.extend_from_slice(&u16b(val.typ()));
        tiff.extend_from_slice(&u32b(val.count()));
        if bytes.len() <= 4 {
            let mut field = [0u8; 4];
            field[..bytes.len()].copy_from_slice(&bytes);
            tiff.extend_from_slice(&field);
        } else {
            tiff.extend_from_slice(&u32b(data_off as u32));
            data_off += padded(bytes.len());
            data.extend_from_slice(&bytes);
            if bytes.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    tiff.extend_from_slice(&u32b(next));
    tiff.extend_from_slice(&data);
}

/// "Exif\0\0" + TIFF: IFD0 -> Exif IFD -> [GPS IFD] -> IFD1 -> thumbnail.
fn exif_payload(spec: &FixtureSpec) -> Vec<u8> {
    let be = spec.big_endian;
    let thumb = encode_rgb(&noise_image(16, 12, spec.seed ^ 0x55), 16, 12, 75);

    let ifd0 = |exif_off: u32, gps_off: u32| {
        let mut e: Entries<'_> = Vec::new();
        if spec.make_model {
            e.push((0x010F, Val::Ascii(MARKER_MAKE)));
            e.push((0x0110, Val::Ascii(MARKER_MODEL)));
        }
        if spec.orientation != 0 {
            e.push((0x0112, Val::Short(spec.orientation)));
        }
        e.push((0x0131, Val::Ascii("WardFixture 1.0"))); // Software
        e.push((0x8769, Val::Long(exif_off)));
        if spec.with_gps {
            e.push((0x8825, Val::Long(gps_off)));
        }
        e
    };
    let exif_ifd: Entries<'_> = vec![
        (0x9000, Val::Undefined(b"0232")), // ExifVersion
        (0x9003, Val::Ascii(DATE_TIME_ORIGINAL)),
        (0xA431, Val::Ascii(MARKER_SERIAL)),
    ];
    let gps_ifd: Entries<'_> = vec![
        (0x0000, Val::Byte(&[2, 3, 0, 0])),
        (0x0001, Val::Ascii("N")),
        (0x0002, Val::Rational(&GPS_LATITUDE)),
        (0x0003, Val::Ascii("W")),
        (0x0004, Val::Rational(&GPS_LONGITUDE)),
    ];
    let ifd1 = |thumb_off: u32| -> Entries<'_> {
        vec![
            (0x0103, Val::Short(6)), // Compression: JPEG
            (0x0201, Val::Long(thumb_off)),
            (0x0202, Val::Long(thumb.len() as u32)),
        ]
    };

    // Pointer values do not change IFD sizes, so lay out with placeholders.
    let ifd0_off = 8usize;
    let exif_off = ifd0_off + ifd_len(&ifd0(0, 0));
    let gps_off = exif_off + ifd_len(&exif_ifd);
    let ifd1_off = gps_off + if spec.with_gps { ifd_len(&gps_ifd) } else { 0 };
    let thumb_off = ifd1_off + ifd_len(&ifd1(0));

    let mut tiff = Vec::with_capacity(thumb_off + thumb.len());
    tiff.extend_from_slice(if be { b"MM\0*" } else { b"II*\0" });
    tiff.extend_from_slice(&if be {
        8u32.to_be_bytes()
    } else {
        8u32.to_le_bytes()
    });
    write_ifd(
        &mut tiff,
        be,
        &ifd0(exif_off as u32, gps_off as u32),
        ifd1_off as u32,
    );
    write_ifd(&mut tiff, be, &exif_ifd, 0);
    if spec.with_gps {
        write_ifd(&mut tiff, be, &gps_ifd, 0);
    }
    write_ifd(&mut tiff, be, &ifd1(thumb_off as u32), 0);
    debug_assert_eq!(tiff.len(), thumb_off);
    tiff.extend_from_slice(&thumb);

    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    payload
}
