//! The marker walk of [`strip_metadata`]: SOI to the first SOS, keeping colour-relevant
//! segments, dropping metadata ones and rewriting Exif to the keep-list.

use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::jpeg::test_util::*;

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
}
