//! Container sniffing: JPEG or HEIC/HEIF, from the first bytes.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::jpeg::test_util::*;

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
}
