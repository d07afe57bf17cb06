//! Exif (TIFF) parsing and minimal re-writing: only the keep-listed tags of IFD0 and the Exif
//! sub-IFD survive, in a fresh TIFF structure with no dangling offsets.

use super::*;

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
pub(super) struct ExifAccumulator {
    out_order: Option<ByteOrder>,
    ifd0: Vec<KeptEntry>,
    exif_ifd: Vec<KeptEntry>,
    /// Orientation of IFD0 in the first segment carrying it, kept or not.
    pub(super) orientation: Option<u16>,
    /// Whether a GPS IFD was dropped.
    pub(super) gps: bool,
}

impl ExifAccumulator {
    /// Parse one Exif payload (starting at the TIFF header) and collect the
    /// entries to keep. Only IFD0 and the Exif sub-IFD are read; the IFD
    /// chain (IFD1 thumbnail), GPS and Interop IFDs are never followed, so
    /// IFD loops cannot cause repeated work.
    pub(super) fn parse_segment(
        &mut self,
        data: &[u8],
        policy: &StripPolicy,
    ) -> Result<(), JpegError> {
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
    pub(super) fn build_segment(
        mut self,
        kept_tags: &mut Vec<u16>,
    ) -> Result<Option<Vec<u8>>, JpegError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::jpeg::test_util::*;

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
}
