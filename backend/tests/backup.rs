//! Backup and restore drill (issue 5 item 5): a tenant populated through the storage ports
//! (clients, notes with versions across two tenant-key epochs, a consent, a thumbnail, a
//! multipart photo blob, users, passkeys, devices, a care team, audit entries with a device
//! chain, a decided quarantine item) is exported to an encrypted archive and restored into an
//! empty embedded store and into an empty AWS store on moto. Every envelope and blob hash,
//! every count and every key check must match; envelopes pulled from the restored store must
//! open with the tenant keys that store's own KEK unwraps; the archive must hold no marker
//! plaintext; a tampered, truncated, reordered or extended archive and a wrong key must be
//! refused before anything is written; a target that already holds the tenant is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_debug_implementations
)] // Test code.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use ring::digest::{SHA256, digest};
use ward_backend::backup::{self, ArchiveKey, BackupError};
use ward_backend::model::{
    AuditEntry, AuditRecord, AuditSource, ChainInfo, ChainLink, Credential, Device, DeviceStatus,
    QuarantineItem, QuarantineStatus, Role, StoredObject, Tenant, UploadState, User,
    WrappedTenantKey,
};
use ward_backend::store::aws::{Aws, AwsSettings, S3Blobs};
use ward_backend::store::local_blobs::LocalBlobs;
use ward_backend::store::{BlobKey, ChainEntry, Stores};
use ward_backend::tenants;
use ward_proto::{
    DeviceId, Envelope, Kind, NoteState, ObjectId, ObjectRef, SymmetricKey, TenantId, TenantKey,
    VersionId,
};

// ---------------------------------------------------------------- stores

struct Embedded {
    stores: Stores,
    blobs: Arc<LocalBlobs>,
    _tmp: tempfile::TempDir,
}

fn embedded() -> Embedded {
    let tmp = tempfile::tempdir().unwrap();
    let (stores, blobs) = Stores::embedded(tmp.path(), "http://localhost:8080").unwrap();
    Embedded {
        stores,
        blobs,
        _tmp: tmp,
    }
}

async fn moto_stores() -> Stores {
    let moto = tokio::task::spawn_blocking(ward_testkit::shared)
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("moto server could not start: {e:#}\nhint: `cargo xtask moto`, then export WARD_MOTO_SERVER")
        });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let aws = Aws::connect(AwsSettings {
        replica_bucket: None,
        table: format!("ward-backup-{id}"),
        bucket: format!("ward-backup-{id}"),
        endpoint: Some(moto.endpoint.clone()),
        region: None,
    })
    .await
    .unwrap();
    aws.create_table_and_bucket().await.unwrap();
    let blobs = S3Blobs::new(aws.clone());
    ward_backend::store::aws::stores(aws, blobs)
}

// ---------------------------------------------------------------- helpers

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(digest(&SHA256, b))
}

/// A photo-like plaintext: JPEG SOI + APP1 Exif header, a marker, then filler.
fn fake_jpeg(marker: &str, len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x40];
    v.extend_from_slice(b"Exif\0\0");
    v.extend_from_slice(marker.as_bytes());
    v.extend_from_slice(b"JFIF\0");
    while v.len() < len {
        v.extend_from_slice(b"pixel data ");
    }
    v.truncate(len);
    v
}

async fn tenant_keys(stores: &Stores, t: TenantId) -> Vec<TenantKey> {
    let tenant = stores.tenants.get_tenant(t).await.unwrap().unwrap();
    let mut out = Vec::new();
    for k in stores.tenants.tenant_keys(t).await.unwrap() {
        let plain = stores
            .keys
            .unwrap_tenant_key(t, &tenant.key_ref, k.purpose(), &k.wrapped)
            .await
            .unwrap();
        out.push(TenantKey {
            epoch: k.epoch,
            key: SymmetricKey::from_slice(&plain).unwrap(),
        });
    }
    out
}

struct Seeded {
    tenant: Tenant,
    markers: Vec<String>,
    photo: (ObjectId, VersionId),
}

#[allow(clippy::too_many_arguments)]
fn sealed_object(
    t: TenantId,
    key: &TenantKey,
    kind: Kind,
    object: ObjectId,
    parent: Option<VersionId>,
    client: ObjectId,
    device: DeviceId,
    plain: &[u8],
) -> StoredObject {
    let version = VersionId::random();
    let env = Envelope::seal_stated(
        ObjectRef {
            tenant: t,
            object,
            version,
            kind,
        },
        (kind == Kind::Note).then_some(NoteState::Draft),
        key,
        plain,
    )
    .unwrap();
    StoredObject {
        object_id: object,
        version_id: version,
        kind: kind as u8,
        client_id: Some(client),
        parent_version: parent,
        seq: 0,
        sha256: sha_hex(&env),
        size: env.len() as u64,
        note_state: ward_proto::Header::parse(&env).ok().and_then(|h| h.note),
        envelope: Some(env),
        device_id: device,
        created_at_ms: now_ms(),
    }
}

/// Fills a tenant of an embedded store with one of everything the archive carries.
async fn seed(src: &Embedded) -> Seeded {
    let s = &src.stores;
    let t = tenants::create_tenant(s, "Backup clinic", now_ms())
        .await
        .unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let markers: Vec<String> = [
        "CLIENT", "NOTE-V1", "NOTE-V2", "NOTE-V3", "CONSENT", "THUMB", "PHOTO",
    ]
    .iter()
    .map(|m| format!("MARKER-{m}-{run}"))
    .collect();

    let admin = User {
        user_id: uuid::Uuid::new_v4(),
        display_name: "Admin".into(),
        role: Role::Admin,
        created_at_ms: now_ms(),
        deactivated_at_ms: None,
    };
    let clinician = User {
        user_id: uuid::Uuid::new_v4(),
        display_name: "Clinician".into(),
        role: Role::Clinician,
        created_at_ms: now_ms(),
        deactivated_at_ms: None,
    };
    for u in [&admin, &clinician] {
        s.identity.put_user(t.id, u).await.unwrap();
        s.identity
            .put_credential(
                t.id,
                &Credential {
                    user_id: u.user_id,
                    credential_id: format!("cred-{}", u.user_id.simple()),
                    passkey: serde_json::json!({"cred": {"counter": 3}}),
                    created_at_ms: now_ms(),
                },
            )
            .await
            .unwrap();
    }
    let phone = Device {
        device_id: DeviceId::random(),
        user_id: clinician.user_id,
        public_key: [9; 32],
        status: DeviceStatus::Active,
        name: "Clinician phone".into(),
        enrolled_at_ms: now_ms(),
        last_seen_ms: now_ms(),
        wipe: None,
        revocation: None,
        platform: Default::default(),
    };
    let lost = Device {
        device_id: DeviceId::random(),
        status: DeviceStatus::Revoked,
        name: "Lost phone".into(),
        ..phone.clone()
    };
    s.devices.create_device(t.id, &phone).await.unwrap();
    s.devices.create_device(t.id, &lost).await.unwrap();

    let client = ObjectId::random();
    s.identity
        .add_care_team(t.id, client, clinician.user_id)
        .await
        .unwrap();

    // Epoch 1: a client, a note and its second version, a consent, a thumbnail.
    let keys = tenant_keys(s, t.id).await;
    let k1 = &keys[0];
    let dev = phone.device_id;
    let c = sealed_object(
        t.id,
        k1,
        Kind::Client,
        client,
        None,
        client,
        dev,
        format!("{{\"name\": \"{}\"}}", markers[0]).as_bytes(),
    );
    let note = ObjectId::random();
    let n1 = sealed_object(
        t.id,
        k1,
        Kind::Note,
        note,
        None,
        client,
        dev,
        markers[1].as_bytes(),
    );
    let n2 = sealed_object(
        t.id,
        k1,
        Kind::Note,
        note,
        Some(n1.version_id),
        client,
        dev,
        markers[2].as_bytes(),
    );
    let consent = sealed_object(
        t.id,
        k1,
        Kind::Consent,
        ObjectId::random(),
        None,
        client,
        dev,
        markers[4].as_bytes(),
    );
    let thumb = sealed_object(
        t.id,
        k1,
        Kind::Thumbnail,
        ObjectId::random(),
        None,
        client,
        dev,
        &fake_jpeg(&markers[5], 20_000),
    );
    s.objects
        .put_objects(t.id, &[c, n1, n2.clone(), consent, thumb])
        .await
        .unwrap();

    // Rotate to epoch 2 (a revocation does this) and write a third note version under it.
    let (plain2, wrapped2) = s
        .keys
        .generate_tenant_key(
            t.id,
            &t.key_ref,
            ward_backend::store::KeyPurpose::TenantKey { epoch: 2 },
        )
        .await
        .unwrap();
    s.tenants
        .put_tenant_key(
            t.id,
            &WrappedTenantKey {
                epoch: 2,
                wrapped: wrapped2,
                created_at_ms: now_ms(),
                purpose_bound: true,
            },
        )
        .await
        .unwrap();
    s.tenants.set_current_epoch(t.id, 1, 2).await.unwrap();
    let k2 = TenantKey {
        epoch: 2,
        key: SymmetricKey::from_slice(&plain2).unwrap(),
    };
    let n3 = sealed_object(
        t.id,
        &k2,
        Kind::Note,
        note,
        Some(n2.version_id),
        client,
        dev,
        markers[3].as_bytes(),
    );
    s.objects.put_object(t.id, &n3).await.unwrap();

    // A photo uploaded in two parts, as a device does, recorded in the feed.
    let photo = (ObjectId::random(), VersionId::random());
    let env = Envelope::seal_stated(
        ObjectRef {
            tenant: t.id,
            object: photo.0,
            version: photo.1,
            kind: Kind::PhotoContent,
        },
        None,
        &k2,
        &fake_jpeg(&markers[6], 300_000),
    )
    .unwrap();
    let bk = BlobKey {
        object: photo.0,
        version: photo.1,
    };
    let upload_id = s.blobs.create_upload(t.id, bk).await.unwrap();
    for (i, part) in env.chunks(200_000).enumerate() {
        let url = s
            .blobs
            .presign_part(t.id, bk, &upload_id, i as u32 + 1, 300)
            .await
            .unwrap();
        let u = url::Url::parse(&url).unwrap();
        let path = u.path().strip_prefix("/blobs/").unwrap();
        let grant = src.blobs.verify("PUT", path, u.query().unwrap()).unwrap();
        src.blobs.write_part(&grant, part).unwrap();
    }
    let parts = s.blobs.list_parts(t.id, bk, &upload_id).await.unwrap();
    assert_eq!(parts.len(), 2);
    s.blobs
        .complete_upload(t.id, bk, &upload_id, &parts)
        .await
        .unwrap();
    s.objects
        .put_upload(
            t.id,
            &UploadState {
                object_id: photo.0,
                version_id: photo.1,
                client_id: client,
                upload_id,
                size: env.len() as u64,
                part_size: 200_000,
                device_id: dev,
                created_at_ms: now_ms(),
                completed: true,
            },
        )
        .await
        .unwrap();
    s.objects
        .put_object(
            t.id,
            &StoredObject {
                object_id: photo.0,
                version_id: photo.1,
                kind: Kind::PhotoContent as u8,
                client_id: Some(client),
                parent_version: None,
                seq: 0,
                sha256: "parts:a,b".into(),
                size: env.len() as u64,
                envelope: None,
                device_id: dev,
                created_at_ms: now_ms(),
                note_state: None,
            },
        )
        .await
        .unwrap();

    // Audit: server entries and a device chain event.
    let rec = |action: &str| AuditRecord {
        at_ms: now_ms(),
        actor: clinician.user_id.to_string(),
        device_id: Some(dev),
        action: action.into(),
        target: Some(note.to_string()),
    };
    s.audit
        .append_entries(
            t.id,
            &[
                AuditEntry {
                    client: Some(client),
                    count: Some(3),
                    ..AuditEntry::from(rec("object.push"))
                },
                AuditEntry::from(rec("tenant_key.release")),
            ],
        )
        .await
        .unwrap();
    let stored = s
        .audit
        .append_chain(
            t.id,
            dev,
            &[ChainEntry {
                link: ChainLink {
                    seq: 1,
                    hash: [5; 32],
                    flag: None,
                },
                entries: vec![AuditEntry {
                    source: AuditSource::Device,
                    chain: Some(ChainInfo {
                        seq: 1,
                        hash: hex::encode([5; 32]),
                        kind: Some(Kind::Note as u8),
                        flag: None,
                        received_at_ms: now_ms(),
                    }),
                    client: Some(client),
                    ..AuditEntry::from(rec("note.view"))
                }],
            }],
        )
        .await
        .unwrap();
    assert_eq!(stored, 1);

    // A rescued version in quarantine, decided.
    let q = QuarantineItem {
        object_id: note,
        version_id: VersionId::random(),
        kind: Kind::Note as u8,
        client_id: Some(client),
        parent_version: Some(n2.version_id),
        device_id: lost.device_id,
        received_at_ms: now_ms(),
        status: QuarantineStatus::Pending,
        decided_at_ms: None,
        envelope: "c2VhbGVk".into(),
    };
    assert!(s.lifecycle.put_quarantine(t.id, &q).await.unwrap());
    s.lifecycle
        .decide_quarantine(t.id, q.version_id, QuarantineStatus::Accepted, now_ms())
        .await
        .unwrap()
        .unwrap();

    let tenant = s.tenants.get_tenant(t.id).await.unwrap().unwrap();
    Seeded {
        tenant,
        markers,
        photo,
    }
}

async fn export_to_vec(stores: &Stores, t: TenantId, key: &ArchiveKey) -> Vec<u8> {
    let mut buf = Vec::new();
    let r = backup::export(stores, t, key, &mut buf).await.unwrap();
    assert_eq!(r.archive_bytes, buf.len() as u64);
    buf
}

/// Every inline envelope of the restored feed, and the photo blob, open under the tenant keys
/// the restored store's own KEK unwraps, and hold their markers.
async fn assert_opens_in(target: &Stores, seeded: &Seeded) {
    let t = seeded.tenant.id;
    let keys = tenant_keys(target, t).await;
    assert_eq!(
        keys.iter().map(|k| k.epoch).collect::<Vec<_>>(),
        [1, 2],
        "both epochs restored"
    );
    let feed = target.objects.changes(t, 0, 1000).await.unwrap();
    assert_eq!(feed.len(), 7);
    let mut plain_all = Vec::new();
    for o in &feed {
        let expected = ObjectRef {
            tenant: t,
            object: o.object_id,
            version: o.version_id,
            kind: Kind::from_u8(o.kind).unwrap(),
        };
        let env = match &o.envelope {
            Some(e) => e.clone(),
            None => target
                .blobs
                .get_blob(
                    t,
                    BlobKey {
                        object: o.object_id,
                        version: o.version_id,
                    },
                )
                .await
                .unwrap()
                .expect("photo blob restored"),
        };
        let plain = Envelope::open(&expected, keys.as_slice(), &env).unwrap();
        plain_all.extend_from_slice(&plain);
    }
    for m in &seeded.markers {
        assert!(
            !ward_testkit::scan_for_markers(&plain_all, &[m.as_bytes()]).is_empty(),
            "{m} opens from the restored store"
        );
    }
    // The restored tenant keeps its epoch, policy and wipe key (public half), under a new KEK.
    let restored = target.tenants.get_tenant(t).await.unwrap().unwrap();
    assert_eq!(restored.current_epoch, 2);
    assert_eq!(restored.policy, seeded.tenant.policy);
    assert_eq!(
        restored.wipe_key.as_ref().map(|w| &w.public_key),
        seeded.tenant.wipe_key.as_ref().map(|w| &w.public_key)
    );
    let seed = target
        .keys
        .unwrap_tenant_key(
            t,
            &restored.key_ref,
            restored.wipe_key.as_ref().unwrap().purpose(),
            &restored.wipe_key.as_ref().unwrap().wrapped_seed,
        )
        .await
        .unwrap();
    assert_eq!(seed.len(), 32);
    assert!(
        target
            .objects
            .get_upload(t, seeded.photo.0, seeded.photo.1)
            .await
            .unwrap()
            .unwrap()
            .completed
    );
}

fn assert_report_ok(r: &backup::Report) {
    assert!(r.ok, "report: {}", serde_json::to_string_pretty(r).unwrap());
    assert!(r.missing.is_empty() && r.mismatched.is_empty() && r.unexpected.is_empty());
    assert!(r.problems.is_empty() && r.warnings.is_empty(), "{r:?}");
    let kinds: Vec<(&str, u64, u64)> = r
        .objects
        .iter()
        .map(|(k, c)| (k.as_str(), c.source, c.restored))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Client", 1, 1),
            ("Consent", 1, 1),
            ("Note", 3, 3),
            ("PhotoContent", 1, 1),
            ("Thumbnail", 1, 1)
        ]
    );
    assert_eq!((r.blobs.source, r.blobs.restored), (1, 1));
    assert!(r.blob_bytes.source > 300_000 && r.blob_bytes.source == r.blob_bytes.restored);
    assert_eq!((r.key_epochs.source, r.key_epochs.restored), (2, 2));
    assert_eq!((r.users.source, r.users.restored), (2, 2));
    assert_eq!((r.credentials.source, r.credentials.restored), (2, 2));
    assert_eq!((r.devices.source, r.devices.restored), (2, 2));
    assert_eq!((r.care_teams.source, r.care_teams.restored), (1, 1));
    assert_eq!((r.uploads.source, r.uploads.restored), (1, 1));
    assert_eq!((r.quarantine.source, r.quarantine.restored), (1, 1));
    assert_eq!((r.chain_links.source, r.chain_links.restored), (1, 1));
    // tenant.create, two server entries, the device event, backup.export.
    assert_eq!((r.audit_entries.source, r.audit_entries.restored), (5, 5));
}

fn assert_no_plaintext(archive: &[u8], seeded: &Seeded) {
    let mut needles: Vec<&[u8]> = seeded.markers.iter().map(|m| m.as_bytes()).collect();
    needles.push(b"JFIF\0");
    needles.push(b"Exif\0\0");
    needles.push(b"pixel data pixel data");
    // Not even the names and roles of the record stream are readable.
    needles.push(b"Backup clinic");
    needles.push(b"Clinician phone");
    let found = ward_testkit::scan_for_markers(archive, &needles);
    assert!(found.is_empty(), "plaintext in the archive at {found:?}");
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_restore_into_empty_embedded_store_matches_and_opens() {
    let src = embedded();
    let seeded = seed(&src).await;
    let t = seeded.tenant.id;
    let key = ArchiveKey::generate().unwrap();
    let started = Instant::now();
    let archive = export_to_vec(&src.stores, t, &key).await;
    let export_time = started.elapsed();
    assert_no_plaintext(&archive, &seeded);

    let dst = embedded();
    let started = Instant::now();
    let restored = backup::restore(&dst.stores, &key, Cursor::new(&archive))
        .await
        .unwrap();
    eprintln!(
        "embedded -> embedded: archive {} bytes, export {export_time:?}, restore {:?}",
        archive.len(),
        started.elapsed()
    );
    assert_eq!(restored.tenant, t);
    assert_report_ok(&restored.report);
    // Source and restored store compared directly, too.
    let direct = backup::verify(&src.stores, &dst.stores, t).await.unwrap();
    assert_report_ok(&direct);
    assert_opens_in(&dst.stores, &seeded).await;
    // Feed order preserved.
    let a = src.stores.objects.changes(t, 0, 100).await.unwrap();
    let b = dst.stores.objects.changes(t, 0, 100).await.unwrap();
    let ids = |v: &[StoredObject]| {
        v.iter()
            .map(|o| {
                (
                    o.object_id,
                    o.version_id,
                    o.sha256.clone(),
                    o.parent_version,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    // The restore is audited in the target, the export in the source (and in the archive).
    let recent = dst.stores.audit.recent(t, 1).await.unwrap();
    assert_eq!(recent[0].action, backup::RESTORE_ACTION);
    let recent = src.stores.audit.recent(t, 1).await.unwrap();
    assert_eq!(recent[0].action, backup::EXPORT_ACTION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_embedded_restores_into_aws_on_moto() {
    let src = embedded();
    let seeded = seed(&src).await;
    let t = seeded.tenant.id;
    let key = ArchiveKey::generate().unwrap();
    let archive = export_to_vec(&src.stores, t, &key).await;
    let dst = moto_stores().await;
    let started = Instant::now();
    let restored = backup::restore(&dst, &key, Cursor::new(&archive))
        .await
        .unwrap();
    eprintln!(
        "embedded -> moto: archive {} bytes, restore {:?}",
        archive.len(),
        started.elapsed()
    );
    assert_report_ok(&restored.report);
    // The tenant now has a KMS key of its own in the target.
    let tenant = dst.tenants.get_tenant(t).await.unwrap().unwrap();
    assert_ne!(tenant.key_ref, seeded.tenant.key_ref);
    assert!(!tenant.key_ref.starts_with("local:"));
    assert_opens_in(&dst, &seeded).await;
    assert_report_ok(&backup::verify(&src.stores, &dst, t).await.unwrap());

    // And back: moto -> embedded.
    let again = export_to_vec(&dst, t, &key).await;
    let back = embedded();
    let r = backup::restore(&back.stores, &key, Cursor::new(&again))
        .await
        .unwrap();
    assert!(r.report.ok, "{:?}", r.report);
    assert_opens_in(&back.stores, &seeded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_archives_and_wrong_keys_are_refused_before_writing() {
    let src = embedded();
    let seeded = seed(&src).await;
    let t = seeded.tenant.id;
    let key = ArchiveKey::generate().unwrap();
    let archive = export_to_vec(&src.stores, t, &key).await;
    // Header 80 bytes, then frames of 4 + 64 KiB + 16 bytes.
    const H: usize = 80;
    const F: usize = 4 + 64 * 1024 + 16;
    assert!(
        archive.len() > H + 2 * F,
        "the archive has several frames ({} bytes)",
        archive.len()
    );
    let dst = embedded();
    let attempt = |bytes: Vec<u8>, key: ArchiveKey| {
        let stores = dst.stores.clone();
        async move { backup::restore(&stores, &key, Cursor::new(bytes)).await }
    };

    let mut flipped = archive.clone();
    flipped[H + F + 100] ^= 1;
    let e = attempt(flipped, key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::Auth { frame: 1 }), "{e}");
    assert!(e.to_string().contains("tampered"), "{e}");

    let mut swapped = archive[..H].to_vec();
    swapped.extend_from_slice(&archive[H + F..H + 2 * F]);
    swapped.extend_from_slice(&archive[H..H + F]);
    swapped.extend_from_slice(&archive[H + 2 * F..]);
    let e = attempt(swapped, key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::Auth { frame: 0 }), "{e}");

    let mut dropped = archive[..H + F].to_vec();
    dropped.extend_from_slice(&archive[H + 2 * F..]);
    let e = attempt(dropped, key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::Auth { frame: 1 }), "{e}");

    let e = attempt(archive[..H + 2 * F].to_vec(), key.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::Truncated), "cut at a frame: {e}");
    let e = attempt(archive[..archive.len() - 7].to_vec(), key.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::Truncated), "cut inside: {e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    let mut extended = archive.clone();
    extended.extend_from_slice(b"more");
    let e = attempt(extended, key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::TrailingData), "{e}");

    let mut other_tenant = archive.clone();
    other_tenant[24..40].copy_from_slice(TenantId::random().as_bytes());
    let e = attempt(other_tenant, key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::Auth { frame: 0 }), "{e}");

    let e = attempt(archive.clone(), ArchiveKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::WrongKey), "{e}");
    assert!(e.to_string().contains("wrong archive key"), "{e}");

    let e = attempt(b"PK\x03\x04 not an archive".to_vec(), key.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::NotAnArchive), "{e}");

    // Nothing was written by any refused attempt; the intact archive still restores.
    assert!(dst.stores.tenants.get_tenant(t).await.unwrap().is_none());
    assert!(
        dst.stores
            .objects
            .changes(t, 0, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let r = attempt(archive, key).await.unwrap();
    assert!(r.report.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_target_that_holds_the_tenant() {
    let src = embedded();
    let seeded = seed(&src).await;
    let t = seeded.tenant.id;
    let key = ArchiveKey::generate().unwrap();
    let archive = export_to_vec(&src.stores, t, &key).await;
    // Into the source itself.
    let e = backup::restore(&src.stores, &key, Cursor::new(&archive))
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::TargetNotEmpty(x) if x == t), "{e}");
    assert!(e.to_string().contains("already holds tenant"), "{e}");
    // Twice into the same target.
    let dst = embedded();
    backup::restore(&dst.stores, &key, Cursor::new(&archive))
        .await
        .unwrap();
    let before = dst.stores.objects.changes(t, 0, 100).await.unwrap().len();
    let e = backup::restore(&dst.stores, &key, Cursor::new(&archive))
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::TargetNotEmpty(_)), "{e}");
    assert_eq!(
        dst.stores.objects.changes(t, 0, 100).await.unwrap().len(),
        before
    );
    // A store with only objects of that tenant (no tenant record) is not empty either.
    let partial = embedded();
    partial
        .stores
        .objects
        .put_objects(t, &src.stores.objects.changes(t, 0, 1).await.unwrap())
        .await
        .unwrap();
    let e = backup::restore(&partial.stores, &key, Cursor::new(&archive))
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::TargetNotEmpty(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_and_a_damaged_restore_are_reported() {
    let src = embedded();
    let seeded = seed(&src).await;
    let work = tempfile::tempdir().unwrap();
    let r = backup::drill(&src.stores, seeded.tenant.id, work.path())
        .await
        .unwrap();
    eprintln!(
        "drill: archive {} bytes, export {} ms, restore {} ms",
        r.archive_bytes, r.export_ms, r.restore_ms
    );
    assert!(r.ok);
    assert_report_ok(&r.report);

    // A restored store that lost a blob and had a version changed is caught by the compare.
    let dst = embedded();
    let key = ArchiveKey::generate().unwrap();
    let archive = export_to_vec(&src.stores, seeded.tenant.id, &key).await;
    backup::restore(&dst.stores, &key, Cursor::new(&archive))
        .await
        .unwrap();
    let t = seeded.tenant.id;
    let blob = dst.tempdir_blob(t, seeded.photo);
    std::fs::remove_file(&blob).unwrap();
    let r = backup::verify(&src.stores, &dst.stores, t).await.unwrap();
    assert!(!r.ok);
    assert_eq!(
        r.missing,
        [format!("blob {}/{}", seeded.photo.0, seeded.photo.1)]
    );
    assert_eq!(r.blobs.restored, 0);
}

impl Embedded {
    fn tempdir_blob(&self, t: TenantId, (o, v): (ObjectId, VersionId)) -> std::path::PathBuf {
        self._tmp.path().join("blobs").join(
            BlobKey {
                object: o,
                version: v,
            }
            .path(t),
        )
    }
}

#[test]
fn key_files_are_private_and_parsed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.key");
    let created = backup::cli::load_key(&path, true).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    let again = backup::cli::load_key(&path, false).unwrap();
    assert_eq!(again.to_hex(), created.to_hex());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = backup::cli::load_key(&path, false).unwrap_err();
    assert!(e.to_string().contains("others can read it"), "{e}");
    assert!(backup::cli::load_key(&dir.path().join("missing.key"), false).is_err());
    assert!(ArchiveKey::parse(b"not hex").is_err());
}
