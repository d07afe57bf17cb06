//! Thumbnails: IDCT-scaled decode, box filter, Exif orientation applied, re-encoded with no
//! metadata.

use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};
use jpeg_encoder::{ColorType, Encoder};

use super::*;

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
    // The memory budget, judged from the frame header before any pixel is decoded.
    let samples = match info.pixel_format {
        PixelFormat::L8 => 1u64,
        PixelFormat::L16 => 2,
        PixelFormat::RGB24 => 3,
        PixelFormat::CMYK32 => 4,
    };
    let full = source_pixels * samples;
    let (mut needed, (out_w, out_h)) = match info.coding_process {
        // Lossless cannot be scaled: the whole image is decoded.
        CodingProcess::Lossless => (full, (info.width, info.height)),
        process => {
            let req = u16::try_from(max_edge).unwrap_or(u16::MAX);
            let scaled = decoder.scale(req, req).map_err(decode_err)?;
            // Progressive: every coefficient of the unscaled image is held (i16 each).
            let coefficients = if process == CodingProcess::DctProgressive {
                full * 2
            } else {
                0
            };
            (coefficients, scaled)
        }
    };
    needed += u64::from(out_w) * u64::from(out_h) * (samples + 3);
    if needed > THUMBNAIL_DECODE_BUDGET_BYTES {
        return Err(JpegError::OverBudget {
            width: info.width,
            height: info.height,
            needed_bytes: needed,
            budget_bytes: THUMBNAIL_DECODE_BUDGET_BYTES,
        });
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
    use crate::capture::jpeg::test_util::*;

    /// `jpeg` with its frame header (SOFn, `sof` the marker byte) claiming `w` x `h`, and
    /// the marker byte replaced by `as_sof`.
    fn claiming(jpeg: &[u8], sof: u8, as_sof: u8, w: u16, h: u16) -> Vec<u8> {
        let mut out = jpeg.to_vec();
        let at = out
            .windows(2)
            .position(|m| m == [0xFF, sof])
            .expect("frame header");
        out[at + 1] = as_sof;
        out[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
        out[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
        if as_sof == 0xC3 {
            // Lossless frames name no quantization table.
            for c in 0..usize::from(out[at + 9]) {
                out[at + 12 + 3 * c] = 0;
            }
        }
        out
    }

    #[test]
    fn a_huge_progressive_jpeg_is_refused_before_decoding() {
        let bomb = claiming(&progressive_jpeg(16, 16), 0xC2, 0xC2, 12_000, 12_000);
        match thumbnail(&bomb, 320, None) {
            Err(JpegError::OverBudget {
                width: 12_000,
                needed_bytes,
                budget_bytes,
                ..
            }) => assert!(needed_bytes > budget_bytes),
            other => panic!("a 144 MP progressive JPEG was decoded: {other:?}"),
        }
    }

    #[test]
    fn a_huge_lossless_jpeg_is_refused_before_decoding() {
        let clean = strip_metadata(&jpeg_fixture(&spec(false)), &StripPolicy::default())
            .expect("strip")
            .to_vec();
        let bomb = claiming(&clean, 0xC0, 0xC3, 10_000, 10_000);
        let r = thumbnail(&bomb, 320, None);
        assert!(
            matches!(r, Err(JpegError::OverBudget { .. })),
            "a 100 MP lossless JPEG was decoded: {r:?}"
        );
    }

    #[test]
    fn a_huge_baseline_jpeg_is_scaled_within_the_budget() {
        // 144 MP baseline: decoded at 1/8 scale, well within the budget (the pixel data of
        // this crafted file does not match its header, so decoding itself then fails).
        let clean = strip_metadata(&jpeg_fixture(&spec(false)), &StripPolicy::default())
            .expect("strip")
            .to_vec();
        let big = claiming(&clean, 0xC0, 0xC0, 12_000, 12_000);
        assert!(!matches!(
            thumbnail(&big, 320, None),
            Err(JpegError::OverBudget { .. })
        ));
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
}
