//! Capture hardening (issue 13): a HEIC photo is refused until its location can be
//! stripped, and metadata hidden between the scans of a progressive JPEG does not survive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use common::{TestVault, contains};
use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::capture::jpeg::JpegError;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::photos::PhotoInput;
use ward_core::{CoreError, Vault};

fn client(v: &Vault, name: &str) -> String {
    v.create_client(ClientInput {
        display_name: name.into(),
        date_of_birth: None,
        external_ref: None,
    })
    .unwrap()
    .client_id
}

fn consent(v: &Vault, client: &str) -> String {
    v.record_consent(client, vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id
}

fn photo_input(consent: &str) -> PhotoInput {
    PhotoInput {
        caption: "left cheek, before".into(),
        consent_id: Some(consent.into()),
        ..Default::default()
    }
}

/// A HEIC-looking file with an Exif item holding GPS: refused with a clear error (Ward cannot
/// strip a HEIF container's location items yet), and nothing of it is stored.
#[test]
fn heic_is_refused_until_its_location_can_be_stripped() {
    let t = TestVault::new();
    let c = client(&t.vault, "H");
    let k = consent(&t.vault, &c);
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    // A meta box naming an Exif item, then the item's bytes with a GPS latitude.
    heic.extend_from_slice(
        b"\0\0\0\x2Cmeta\0\0\0\0\0\0\0\x20iinf\0\0\0\0\0\x01infe\x02\0\0\0\0\x01\0\0Exif",
    );
    heic.extend_from_slice(b"Exif\0\0");
    heic.extend_from_slice(fixture::MARKER_GPS_LAT.as_bytes());
    heic.extend((0..200_000u32).map(|i| (i % 251) as u8));
    let thumb = fixture::jpeg_fixture(&FixtureSpec {
        width: 32,
        height: 24,
        ..FixtureSpec::default()
    });
    match t
        .vault
        .capture_photo(&c, &heic, photo_input(&k), Some(&thumb))
    {
        Err(CoreError::Image(JpegError::HeicRefused)) => {}
        other => panic!(
            "a HEIC photo with GPS was captured: {:?}",
            other.map(|c| c.view)
        ),
    }
    assert!(t.vault.list_photos(&c).unwrap().is_empty());
    for (path, bytes) in common::all_files(t.tmp.path()) {
        assert!(
            !contains(&bytes, fixture::MARKER_GPS_LAT.as_bytes()),
            "GPS written to {}",
            path.display()
        );
    }
}

/// A progressive JPEG with an Exif APP1 (GPS) placed between its scans: captured without it.
#[test]
fn gps_between_the_scans_of_a_progressive_jpeg_is_stripped() {
    let t = TestVault::new();
    let c = client(&t.vault, "P");
    let k = consent(&t.vault, &c);
    let (w, h) = (64u16, 48u16);
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| ((i * 7919) % 251) as u8)
        .collect();
    let mut base = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut base, 90);
    enc.set_progressive(true);
    enc.encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let second_scan = base
        .windows(2)
        .enumerate()
        .filter(|(_, m)| *m == [0xFF, 0xDA])
        .nth(1)
        .map(|(i, _)| i)
        .expect("progressive: several scans");
    // The fixture's APP1 segments (Exif with the GPS IFD, XMP with GPSLatitude), whole.
    let gps = fixture::jpeg_fixture(&FixtureSpec::default());
    let mut app1 = Vec::new();
    let mut at = 2;
    while gps[at] == 0xFF && (0xE0..=0xEF).contains(&gps[at + 1]) {
        let len = usize::from(u16::from_be_bytes([gps[at + 2], gps[at + 3]]));
        if gps[at + 1] == 0xE1 {
            app1.extend_from_slice(&gps[at..at + 2 + len]);
        }
        at += 2 + len;
    }
    let mut input = base[..second_scan].to_vec();
    input.extend_from_slice(&app1);
    input.extend_from_slice(&base[second_scan..]);
    assert!(contains(&input, fixture::MARKER_GPS_LAT.as_bytes()));

    let cap = t
        .vault
        .capture_photo(&c, &input, photo_input(&k), None)
        .unwrap();
    let stored = t.vault.read_photo(&cap.view.photo_id).unwrap();
    assert!(
        !contains(&stored, fixture::MARKER_GPS_LAT.as_bytes()),
        "GPS between scans survived capture"
    );
    assert!(
        cap.view
            .removed_metadata
            .iter()
            .any(|m| m.starts_with("APPn/COM between scans"))
    );
    let exif = kamadak_exif_gps(&stored);
    assert!(!exif, "an Exif GPS IFD survived");
    let mut d = jpeg_decoder::Decoder::new(&stored[..]);
    assert_eq!(
        d.decode().unwrap().len(),
        pixels.len(),
        "the photo still decodes"
    );
}

/// Whether `jpeg` holds an Exif GPS latitude anywhere kamadak-exif finds one.
fn kamadak_exif_gps(jpeg: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(jpeg))
        .is_ok_and(|e| {
            e.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                .is_some()
        })
}
