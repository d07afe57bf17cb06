//! Helpers shared by the JPEG tests.

pub(crate) use std::io::Cursor;

pub(crate) use exif::{In, Reader, Tag, Value};
pub(crate) use jpeg_decoder::Decoder;
pub(crate) use jpeg_encoder::{ColorType, Encoder};
pub(crate) use proptest::prelude::*;

use super::{StripReport, contains};
pub(crate) use crate::capture::fixture::{
    DATE_TIME_ORIGINAL, FixtureSpec, MARKER_COMMENT, MARKER_GPS_LAT, MARKER_MAKE, MARKER_MODEL,
    MARKER_SERIAL, MARKER_TRAILER, jpeg_fixture, jpeg_of_size,
};

pub(crate) fn spec(big_endian: bool) -> FixtureSpec {
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

pub(crate) fn read_exif(jpeg: &[u8]) -> Result<exif::Exif, exif::Error> {
    Reader::new().read_from_container(&mut Cursor::new(jpeg))
}

pub(crate) fn decode(jpeg: &[u8]) -> (Vec<u8>, jpeg_decoder::ImageInfo) {
    let mut d = Decoder::new(jpeg);
    let px = d.decode().expect("decode");
    (px, d.info().expect("info"))
}

pub(crate) fn find(hay: &[u8], needle: &str) -> bool {
    contains(hay, needle.as_bytes())
}

/// Offset of `sub` inside `buf`; panics unless `sub` borrows from `buf`.
pub(crate) fn scan_offset(buf: &[u8], sub: &[u8]) -> usize {
    let start = (sub.as_ptr() as usize)
        .checked_sub(buf.as_ptr() as usize)
        .expect("sub-slice");
    assert!(start + sub.len() <= buf.len(), "sub-slice");
    start
}

pub(crate) fn trailer_len(report: &StripReport) -> Option<usize> {
    report.removed_segments.iter().find_map(|r| {
        r.strip_prefix("trailer (")?
            .strip_suffix(" bytes)")?
            .parse()
            .ok()
    })
}

pub(crate) fn progressive_jpeg(w: u16, h: u16) -> Vec<u8> {
    let data: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| ((i * 7919) % 251) as u8)
        .collect();
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 90);
    enc.set_progressive(true);
    enc.encode(&data, w, h, ColorType::Rgb).expect("encode");
    out
}
