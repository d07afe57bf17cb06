//! Metadata placed between the scans of a progressive (or multi-scan) JPEG: [`scan_parts`]
//! walks the scan data [`super::strip_metadata`] borrowed (from the first scan to EOI) and
//! leaves out every APPn and COM segment found between scans, so an Exif block with GPS
//! tags hidden there does not survive capture. The image data is not copied: the result is
//! the list of borrowed pieces around the removed segments.

/// The scan data without the APPn / COM segments between scans, as borrowed pieces in
/// order, and how many bytes were left out. Entropy-coded bytes, byte stuffing (`FF 00`),
/// fill bytes and RSTn markers are kept; every other marker segment (DHT, DQT, DRI, SOS, …)
/// is kept whole, its payload skipped so a `FF` inside it is not taken for a marker.
pub fn scan_parts(scan: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut parts = Vec::new();
    let mut removed = 0usize;
    let mut start = 0usize;
    let mut i = 0usize;
    while i + 1 < scan.len() {
        if scan[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = scan[i + 1];
        match marker {
            0x00 | 0xFF | 0xD0..=0xD7 | 0x01 => i += if marker == 0xFF { 1 } else { 2 },
            0xD8 | 0xD9 => break,
            _ => {
                let Some(len) = scan
                    .get(i + 2..i + 4)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    break;
                };
                let end = (i + 2 + len).min(scan.len());
                if matches!(marker, 0xE0..=0xEF | 0xFE) {
                    if start < i {
                        parts.push(&scan[start..i]);
                    }
                    removed += end - i;
                    start = end;
                }
                i = end;
            }
        }
    }
    if start < scan.len() {
        parts.push(&scan[start..]);
    }
    (parts, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::jpeg::test_util::*;
    use crate::capture::jpeg::{StripPolicy, strip_metadata};

    /// A progressive JPEG with an Exif APP1 carrying GPS inserted before its second scan.
    fn progressive_with_gps_between_scans() -> (Vec<u8>, Vec<u8>) {
        let base = progressive_jpeg(64, 48);
        let sos: Vec<usize> = base
            .windows(2)
            .enumerate()
            .filter(|(_, w)| *w == [0xFF, 0xDA])
            .map(|(i, _)| i)
            .collect();
        assert!(sos.len() > 2, "not progressive");
        // The fixture's APP1 segments (Exif with the GPS IFD, XMP with GPSLatitude), whole.
        let gps = jpeg_fixture(&spec(false));
        let mut segment = Vec::new();
        let mut at = 2;
        while gps[at] == 0xFF && (0xE0..=0xEF).contains(&gps[at + 1]) {
            let len = usize::from(u16::from_be_bytes([gps[at + 2], gps[at + 3]]));
            if gps[at + 1] == 0xE1 {
                segment.extend_from_slice(&gps[at..at + 2 + len]);
            }
            at += 2 + len;
        }
        assert!(find(&segment, MARKER_GPS_LAT) && find(&segment, "Exif"));
        let mut input = base[..sos[1]].to_vec();
        input.extend_from_slice(&segment);
        input.extend_from_slice(&base[sos[1]..]);
        (input, base)
    }

    #[test]
    fn app1_with_gps_between_scans_is_left_out() {
        let (input, base) = progressive_with_gps_between_scans();
        let s = strip_metadata(&input, &StripPolicy::default()).expect("strip");
        assert!(
            find(s.scan, MARKER_GPS_LAT),
            "the marker walk stops at the first scan"
        );
        let (parts, removed) = scan_parts(s.scan);
        let mut out = s.head.clone();
        for p in &parts {
            out.extend_from_slice(p);
        }
        assert!(removed > 0);
        assert!(!find(&out, MARKER_GPS_LAT), "GPS survived between scans");
        assert!(read_exif(&out).map_or(true, |e| {
            e.get_field(Tag::GPSLatitude, In::PRIMARY).is_none()
        }));
        let (a, _) = decode(&base);
        let (b, _) = decode(&out);
        assert!(a == b, "pixels differ");
    }

    #[test]
    fn a_plain_scan_comes_back_whole() {
        let base = progressive_jpeg(40, 30);
        let s = strip_metadata(&base, &StripPolicy::default()).expect("strip");
        let (parts, removed) = scan_parts(s.scan);
        assert_eq!(removed, 0);
        assert_eq!(parts, vec![s.scan]);
    }
}
