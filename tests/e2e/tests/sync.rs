//! End-to-end sync: phone cores (through the FFI facade the apps call) against the real
//! backend Router on a loopback port — on the embedded store and on the AWS adapter over moto —
//! converging, working offline, and surviving a hostile network without losing or
//! duplicating a record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::{HashMap, HashSet};

use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_e2e::{Backend, Device, FaultConfig, Store};

fn text(s: &str) -> NoteBody {
    NoteBody::Text { text: s.into() }
}

fn client(d: &Device, name: &str) -> String {
    d.vault
        .clients()
        .create(ClientInput {
            display_name: name.into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
}

fn photo(d: &Device, client_id: &str, consent: &str, seed: u64, size: usize) -> (String, Vec<u8>) {
    let jpeg = ward_core::capture::fixture::jpeg_of_size(size, seed);
    let v = d
        .vault
        .photos()
        .capture(
            client_id.into(),
            jpeg.into(),
            PhotoInput {
                caption: format!("photo {seed}"),
                body_area: None,
                consent_id: Some(consent.into()),
                series: None,
                series_label: None,
            },
            None,
        )
        .unwrap();
    let stored = d.vault.photos().read(v.photo_id.clone()).unwrap().to_vec();
    (v.photo_id, stored)
}

fn as_set(v: Vec<(String, String, u8)>) -> HashSet<(String, String, u8)> {
    let n = v.len();
    let s: HashSet<_> = v.into_iter().collect();
    assert_eq!(s.len(), n, "a version is held twice");
    s
}

ward_e2e::on_both_adapters!(
    two_devices_converge_and_keep_both_concurrent_versions,
    five_devices_editing_one_note_converge_with_every_version,
    photos_reach_another_device_through_presigned_urls,
);

fn two_devices_converge_and_keep_both_concurrent_versions(store: Store) {
    let b = Backend::start(store, None);
    let a = Device::first_admin(&b);
    let c = Device::staff(&b, &a, "admin", "Second admin");
    let jane = client(&a, "Jane Doe");
    let note = a.vault.notes().create(jane.clone(), text("v1")).unwrap();
    a.sync_until_done(1);
    c.sync_until_done(1);
    assert_eq!(
        c.vault
            .notes()
            .get(note.note_id.clone())
            .unwrap()
            .version_id,
        note.version_id
    );

    // Both edit the same version while apart.
    let ea = a
        .vault
        .notes()
        .edit(
            note.note_id.clone(),
            note.version_id.clone(),
            text("from A"),
        )
        .unwrap();
    let ec = c
        .vault
        .notes()
        .edit(
            note.note_id.clone(),
            note.version_id.clone(),
            text("from C"),
        )
        .unwrap();
    for d in [&a, &c, &a] {
        d.sync_until_done(1);
    }
    for d in [&a, &c] {
        let history: HashSet<String> = d
            .vault
            .notes()
            .history(note.note_id.clone())
            .unwrap()
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(
            history,
            HashSet::from([
                note.version_id.clone(),
                ea.version_id.clone(),
                ec.version_id.clone()
            ]),
            "every version is kept on every device"
        );
        let list = d.vault.notes().list(jane.clone()).unwrap();
        assert!(
            list[0].has_conflict,
            "the concurrent edit is surfaced as a conflict"
        );
    }
    let server = as_set(b.server_versions());
    assert_eq!(server, as_set(a.local_versions()));
    assert_eq!(server, as_set(c.local_versions()));
}

fn five_devices_editing_one_note_converge_with_every_version(store: Store) {
    let b = Backend::start(store, None);
    let admin = Device::first_admin(&b);
    let devices: Vec<Device> = (0..4)
        .map(|i| Device::staff(&b, &admin, "admin", &format!("Admin {i}")))
        .collect();
    let all: Vec<&Device> = std::iter::once(&admin).chain(devices.iter()).collect();
    let cl = client(&admin, "Shared client");
    let note = admin
        .vault
        .notes()
        .create(cl.clone(), text("base"))
        .unwrap();
    admin.sync_until_done(1);
    for d in &all[1..] {
        d.sync_until_done(1);
    }
    let mut expected = HashSet::from([note.version_id.clone()]);
    for (i, d) in all.iter().enumerate() {
        let v = d
            .vault
            .notes()
            .edit(
                note.note_id.clone(),
                note.version_id.clone(),
                text(&format!("edit {i}")),
            )
            .unwrap();
        expected.insert(v.version_id);
        // Each device also writes a note of its own.
        d.vault
            .notes()
            .create(cl.clone(), text(&format!("own {i}")))
            .unwrap();
    }
    // Two rounds: the first pushes everything, the second pulls what others pushed after.
    for _ in 0..2 {
        for d in &all {
            d.sync_until_done(1);
        }
    }
    let server = as_set(b.server_versions());
    for d in &all {
        let history: HashSet<String> = d
            .vault
            .notes()
            .history(note.note_id.clone())
            .unwrap()
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(history, expected);
        assert_eq!(d.vault.notes().list(cl.clone()).unwrap().len(), 6);
        assert_eq!(
            as_set(d.local_versions()),
            server,
            "every device holds what the server holds"
        );
    }
}

fn photos_reach_another_device_through_presigned_urls(store: Store) {
    let b = Backend::start(store, None);
    let a = Device::first_admin(&b);
    let c = Device::staff(&b, &a, "admin", "Other");
    let cl = client(&a, "Photo client");
    let consent = a
        .vault
        .consents()
        .record(cl.clone(), vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id;
    // One small and one larger than an upload part (8 MiB): multipart.
    let (small, small_bytes) = photo(&a, &cl, &consent, 1, 200_000);
    let (big, big_bytes) = photo(&a, &cl, &consent, 2, 9 * 1024 * 1024);
    let report = a.sync.sync(None).unwrap();
    assert_eq!(report.photos_uploaded, 2);
    assert_eq!(a.sync.status().unwrap().unsynced_photos, 0);
    c.sync_until_done(1);
    for (id, bytes) in [(&small, &small_bytes), (&big, &big_bytes)] {
        assert!(
            c.sync.download_photo(id.clone()).unwrap(),
            "downloaded on demand"
        );
        assert!(!c.sync.download_photo(id.clone()).unwrap(), "then held");
        assert_eq!(&c.vault.photos().read(id.clone()).unwrap().to_vec(), bytes);
    }
}

#[test]
fn offline_work_is_kept_counted_and_pushed_on_reconnect() {
    let b = Backend::start(Store::Embedded, Some(FaultConfig::none()));
    let a = Device::first_admin(&b);
    let proxy = b.proxy.as_ref().unwrap();
    let cl = client(&a, "Home visit");
    a.sync_until_done(1);
    proxy.set_down(true);
    for i in 0..30 {
        a.vault
            .notes()
            .create(cl.clone(), text(&format!("offline {i}")))
            .unwrap();
    }
    match a.sync.sync(None) {
        Err(ward_core::WardError::Offline { .. }) => {}
        other => panic!("expected Offline, got {other:?}"),
    }
    let st = a.sync.status().unwrap();
    assert_eq!(st.unsynced_notes, 30);
    assert!(st.oldest_unsynced_ms.is_some());
    // Capture and reads never wait for the network.
    assert_eq!(a.vault.notes().list(cl.clone()).unwrap().len(), 30);
    proxy.set_down(false);
    a.sync_until_done(1);
    assert_eq!(a.sync.status().unwrap().unsynced_notes, 0);
    assert_eq!(as_set(b.server_versions()), as_set(a.local_versions()));
}

#[test]
fn hostile_network_loses_and_duplicates_nothing_across_1000_notes_and_50_photos() {
    let b = Backend::start(Store::Embedded, Some(FaultConfig::hostile(7)));
    let proxy = b.proxy.as_ref().unwrap();
    // Enrollment itself is not under test here: faults on once both devices are set up.
    proxy.set_faults(false);
    let a = Device::first_admin(&b);
    let c = Device::staff(&b, &a, "admin", "Reader");
    proxy.set_faults(true);

    let mut clients = Vec::new();
    for i in 0..10 {
        let cl = client(&a, &format!("Client {i}"));
        let consent = a
            .vault
            .consents()
            .record(cl.clone(), vec![ConsentScope::Clinical], None)
            .unwrap()
            .consent_id;
        clients.push((cl, consent));
    }
    let mut photos = HashMap::new();
    let mut attempts = 0;
    for round in 0..10u64 {
        // Work arrives while syncs fail and retry.
        for (cl, consent) in &clients {
            let bodies = (0..10).map(|i| text(&format!("r{round} n{i}"))).collect();
            a.vault.inner().create_notes(cl, bodies).unwrap();
            if round % 2 == 0 {
                let (id, bytes) = photo(&a, cl, consent, 100 + photos.len() as u64, 150_000);
                photos.insert(id, bytes);
            }
        }
        attempts += a.sync_until_done(50);
    }
    assert_eq!(photos.len(), 50);
    a.sync_until_done(50);
    attempts += c.sync_until_done(50);
    proxy.set_faults(false);
    c.sync_until_done(1);

    let stats = &proxy.stats;
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!(
        "proxy: {} connections, {} resets, {} cut responses, {} delayed, {} duplicated; {} sync attempts",
        stats.connections.load(Relaxed),
        stats.resets.load(Relaxed),
        stats.cuts.load(Relaxed),
        stats.delays.load(Relaxed),
        stats.duplicates.load(Relaxed),
        attempts
    );
    assert!(
        stats.resets.load(Relaxed) + stats.cuts.load(Relaxed) > 0,
        "faults were injected"
    );

    let server = as_set(b.server_versions());
    let on_a = as_set(a.local_versions());
    let on_c = as_set(c.local_versions());
    assert_eq!(
        server, on_a,
        "0 lost, 0 extra: the server holds exactly A's versions"
    );
    assert_eq!(on_c, server);
    let notes: usize = clients
        .iter()
        .map(|(cl, _)| c.vault.notes().list(cl.clone()).unwrap().len())
        .sum();
    assert_eq!(notes, 1000);
    assert_eq!(a.sync.status().unwrap().unsynced_notes, 0);
    for (id, bytes) in &photos {
        c.sync.download_photo(id.clone()).unwrap();
        assert_eq!(&c.vault.photos().read(id.clone()).unwrap().to_vec(), bytes);
    }
}
