//! The EOI scan: where the primary image ends, so any trailer after it (MPF images, motion
//! photo video, appended data) is cut off.

use super::*;

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
pub(super) fn find_eoi(jpeg: &[u8], from: usize) -> Result<usize, JpegError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::jpeg::test_util::*;

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
}
