//! One storage test-suite, run against both adapters: `adapter_suite!` turns one list of test
//! functions into the same tests for the embedded adapter (SQLite + files + local master key,
//! LocalBlobs) and for the AWS adapter against moto server (DynamoDB + S3 + KMS, S3Blobs). Each
//! test gets its own data folder, or its own table and bucket on the process's shared moto
//! server.
//!
//! Concurrency: the consume-once tests race several takers. moto is not linearizable (RECIPES:
//! it once lost an atomic increment under 40 concurrent writers), so against moto they use
//! only 2 concurrent tasks: that proves the conditional-delete code path, while DynamoDB's
//! real guarantee (one conditional write wins) is AWS's, not moto's. The embedded adapter races
//! 8 tasks.
//!
//! The plaintext scan stores envelopes sealed over marker strings and a JPEG-with-EXIF photo,
//! then reads everything at rest (DynamoDB Scan + every S3 object, or every file of the data
//! folder) and fails on any marker, on FF D8 FF at the start of any stored value, or on the
//! JFIF/Exif signatures anywhere (a bare 3-byte FF D8 FF occurs by chance in megabytes of
//! ciphertext, ~1 in 16 MB, so "anywhere" is checked with the longer signatures).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_debug_implementations
)] // Test code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use ring::digest::{SHA256, digest};
use ward_backend::error::StoreError;
use ward_backend::model::{
    AuditRecord, Ceremony, CeremonyPurpose, Credential, Device, DeviceStatus, Invite, PartInfo,
    Role, Session, StoredObject, Tenant, UploadState, User, WrappedTenantKey,
};
use ward_backend::store::aws::{Aws, AwsSettings, S3Blobs};
use ward_backend::store::local_blobs::LocalBlobs;
use ward_backend::store::{BlobKey, KeyPurpose, PutOutcome, Stores};
use ward_backend::tenants;
use ward_proto::{
    DeviceId, Envelope, Kind, NoteState, ObjectId, ObjectRef, TenantId, TenantKey, VersionId,
};

// ---------------------------------------------------------------- harness

enum Driver {
    Embedded {
        blobs: Arc<LocalBlobs>,
        dir: PathBuf,
        _tmp: tempfile::TempDir,
    },
    Aws {
        aws: Arc<Aws>,
        moto: &'static ward_testkit::Moto,
    },
}

struct Harness {
    stores: Stores,
    driver: Driver,
    /// How many tasks race for a consume-once record.
    racers: usize,
}

async fn make_embedded() -> Harness {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (stores, blobs) = Stores::embedded(&dir, "http://localhost:8080").unwrap();
    Harness {
        stores,
        driver: Driver::Embedded {
            blobs,
            dir,
            _tmp: tmp,
        },
        racers: 8,
    }
}

async fn make_aws() -> Harness {
    let moto = tokio::task::spawn_blocking(ward_testkit::shared)
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("moto server could not start: {e:#}\nhint: `cargo xtask moto`, then export WARD_MOTO_SERVER")
        });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let aws = Aws::connect(AwsSettings {
        replica_bucket: None,
        table: format!("ward-test-{id}"),
        bucket: format!("ward-test-{id}"),
        endpoint: Some(moto.endpoint.clone()),
        region: None,
    })
    .await
    .unwrap();
    aws.create_table_and_bucket().await.unwrap();
    // Idempotent.
    aws.create_table_and_bucket().await.unwrap();
    let blobs = S3Blobs::new(aws.clone());
    Harness {
        stores: ward_backend::store::aws::stores(aws.clone(), blobs),
        driver: Driver::Aws { aws, moto },
        // moto is not linearizable under concurrency (RECIPES: it once lost 1 of 40 atomic
        // increments; here it let two conditional feed writes share a seq). Concurrency
        // correctness is tested on the embedded adapter; on moto the code path runs serially.
        racers: 1,
    }
}

fn split_url(url: &str) -> (url::Url, String) {
    let u = url::Url::parse(url).unwrap();
    let pq = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    (u, pq)
}

impl Harness {
    /// What a device does with a presigned part URL: PUT the bytes. Returns the ETag.
    async fn put_part(&self, url: &str, bytes: Vec<u8>) -> String {
        match &self.driver {
            Driver::Embedded { blobs, .. } => {
                let (u, _) = split_url(url);
                let path = u.path().strip_prefix("/blobs/").unwrap();
                let grant = blobs.verify("PUT", path, u.query().unwrap()).unwrap();
                blobs.write_part(&grant, &bytes).unwrap().etag
            }
            Driver::Aws { moto, .. } => {
                let (u, pq) = split_url(url);
                assert_eq!(
                    u.port(),
                    Some(moto.port),
                    "presigned URL points at moto: {url}"
                );
                let addr = moto.addr();
                let r = tokio::task::spawn_blocking(move || {
                    ward_testkit::http::request(
                        addr,
                        "PUT",
                        &pq,
                        &[("Content-Type", "application/octet-stream")],
                        &bytes,
                        Duration::from_secs(60),
                    )
                })
                .await
                .unwrap()
                .unwrap();
                assert_eq!(r.status, 200, "PUT part: {}", r.text());
                r.header("etag").unwrap().to_string()
            }
        }
    }

    /// What a device does with a presigned download URL.
    async fn get_blob(&self, url: &str) -> Option<Vec<u8>> {
        match &self.driver {
            Driver::Embedded { blobs, .. } => {
                let (u, _) = split_url(url);
                let path = u.path().strip_prefix("/blobs/").unwrap();
                let grant = blobs.verify("GET", path, u.query().unwrap()).unwrap();
                blobs.read(&grant).unwrap()
            }
            Driver::Aws { moto, .. } => {
                let (_, pq) = split_url(url);
                let addr: SocketAddr = moto.addr();
                let r = tokio::task::spawn_blocking(move || {
                    ward_testkit::http::request(addr, "GET", &pq, &[], b"", Duration::from_secs(60))
                })
                .await
                .unwrap()
                .unwrap();
                match r.status {
                    200 => Some(r.body),
                    404 => None,
                    s => panic!("GET blob answered {s}: {}", r.text()),
                }
            }
        }
    }

    /// Every stored value at rest: (where, bytes).
    async fn at_rest(&self) -> Vec<(String, Vec<u8>)> {
        match &self.driver {
            Driver::Embedded { dir, .. } => {
                let mut out = Vec::new();
                let mut stack = vec![dir.clone()];
                while let Some(d) = stack.pop() {
                    for e in std::fs::read_dir(&d).unwrap() {
                        let p = e.unwrap().path();
                        if p.is_dir() {
                            stack.push(p);
                        } else {
                            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
                        }
                    }
                }
                out
            }
            Driver::Aws { aws, .. } => {
                let mut out = Vec::new();
                let mut start = None;
                loop {
                    let page = aws
                        .dynamodb()
                        .scan()
                        .table_name(aws.table_name())
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .unwrap();
                    for item in page.items() {
                        let pk = match item.get("pk") {
                            Some(AttributeValue::S(s)) => s.clone(),
                            _ => String::new(),
                        };
                        for (name, v) in item {
                            let bytes = match v {
                                AttributeValue::S(s) => s.as_bytes().to_vec(),
                                AttributeValue::N(n) => n.as_bytes().to_vec(),
                                AttributeValue::B(b) => b.as_ref().to_vec(),
                                other => format!("{other:?}").into_bytes(),
                            };
                            out.push((format!("dynamodb {pk} {name}"), bytes));
                        }
                    }
                    start = page.last_evaluated_key;
                    if start.is_none() {
                        break;
                    }
                }
                let list = aws
                    .s3()
                    .list_objects_v2()
                    .bucket(aws.bucket())
                    .send()
                    .await
                    .unwrap();
                assert_ne!(list.is_truncated, Some(true));
                for o in list.contents() {
                    let key = o.key().unwrap();
                    let body = aws
                        .s3()
                        .get_object()
                        .bucket(aws.bucket())
                        .key(key)
                        .send()
                        .await
                        .unwrap()
                        .body
                        .collect()
                        .await
                        .unwrap()
                        .into_bytes()
                        .to_vec();
                    out.push((format!("s3 {key}"), body));
                }
                out
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn new_tenant(h: &Harness, name: &str) -> Tenant {
    tenants::create_tenant(&h.stores, name, now_ms())
        .await
        .unwrap()
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(digest(&SHA256, b))
}

fn stored(
    object: ObjectId,
    version: VersionId,
    kind: Kind,
    envelope: Option<Vec<u8>>,
    size: u64,
) -> StoredObject {
    let sha = envelope
        .as_deref()
        .map(sha_hex)
        .unwrap_or_else(|| "00".repeat(32));
    let note_state = envelope
        .as_deref()
        .and_then(|e| ward_proto::Header::parse(e).ok())
        .and_then(|h| h.note);
    StoredObject {
        object_id: object,
        version_id: version,
        kind: kind as u8,
        client_id: Some(ObjectId::random()),
        parent_version: None,
        seq: 0,
        sha256: sha,
        size,
        envelope,
        device_id: DeviceId::random(),
        created_at_ms: now_ms(),
        note_state,
    }
}

fn sealed(tenant: TenantId, key: &TenantKey, kind: Kind, plaintext: &[u8]) -> StoredObject {
    let (object, version) = (ObjectId::random(), VersionId::random());
    let env = Envelope::seal_stated(
        ObjectRef {
            tenant,
            object,
            version,
            kind,
        },
        (kind == Kind::Note).then_some(NoteState::Draft),
        key,
        plaintext,
    )
    .unwrap();
    let len = env.len() as u64;
    stored(object, version, kind, Some(env), len)
}

fn user(name: &str) -> User {
    User {
        user_id: uuid::Uuid::new_v4(),
        display_name: name.into(),
        role: Role::Clinician,
        created_at_ms: now_ms(),
        deactivated_at_ms: None,
    }
}

fn device(user_id: uuid::Uuid, status: DeviceStatus) -> Device {
    Device {
        device_id: DeviceId::random(),
        user_id,
        public_key: [7; 32],
        status,
        name: "Test phone".into(),
        enrolled_at_ms: now_ms(),
        last_seen_ms: 0,
        wipe: None,
        revocation: None,
        platform: Default::default(),
    }
}

fn session(device: &Device, id: &str) -> Session {
    Session {
        session_id: id.into(),
        token_hash: sha_hex(id.as_bytes()),
        user_id: device.user_id,
        device_id: device.device_id,
        role: Role::Clinician,
        expires_at_ms: now_ms() + 3_600_000,
        authenticated_at_ms: 1,
        revoked: false,
        created_at_ms: 0,
        last_used_ms: 0,
        console: false,
    }
}

fn invite(code_hash: &str, expires_at_ms: i64) -> Invite {
    Invite {
        code_hash: code_hash.into(),
        role: Role::Clinician,
        display_name: "Invitee".into(),
        created_by: "admin".into(),
        auto_approve_device: false,
        expires_at_ms,
        user_id: None,
    }
}

fn ceremony(id: &str, expires_at_ms: i64) -> Ceremony {
    Ceremony {
        id: id.into(),
        purpose: CeremonyPurpose::Login,
        state: serde_json::json!({"challenge": id}),
        expires_at_ms,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// Races `n` tasks calling `f`; returns how many got `Some`.
async fn race<F, Fut, T>(n: usize, f: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, StoreError>> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let fut = f();
        let b = barrier.clone();
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            won += 1;
        }
    }
    won
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

// ---------------------------------------------------------------- the suite

async fn tenants_and_keys(h: Harness) {
    let t = new_tenant(&h, "Clinic A").await;
    assert_eq!(
        h.stores.tenants.get_tenant(t.id).await.unwrap(),
        Some(t.clone())
    );
    assert!(is_conflict(h.stores.tenants.create_tenant(&t).await));
    let all = h.stores.tenants.list_tenants().await.unwrap();
    assert!(all.contains(&t), "{all:?}");
    assert_eq!(
        h.stores
            .tenants
            .get_tenant(TenantId::random())
            .await
            .unwrap(),
        None
    );

    let keys = h.stores.tenants.tenant_keys(t.id).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.epoch).collect::<Vec<_>>(), [1]);
    let plain = h
        .stores
        .keys
        .unwrap_tenant_key(t.id, &t.key_ref, keys[0].purpose(), &keys[0].wrapped)
        .await
        .unwrap();
    assert_eq!(plain.len(), 32);
    assert!(is_conflict(
        h.stores.tenants.put_tenant_key(t.id, &keys[0]).await
    ));

    let (plain2, wrapped2) = h
        .stores
        .keys
        .generate_tenant_key(t.id, &t.key_ref, KeyPurpose::TenantKey { epoch: 2 })
        .await
        .unwrap();
    assert_ne!(&plain2[..], &plain[..]);
    let k2 = WrappedTenantKey {
        epoch: 2,
        wrapped: wrapped2,
        created_at_ms: now_ms(),
        purpose_bound: true,
    };
    h.stores.tenants.put_tenant_key(t.id, &k2).await.unwrap();
    let keys = h.stores.tenants.tenant_keys(t.id).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.epoch).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(keys[1], k2);

    // Conditional epoch change: only from the expected epoch.
    h.stores
        .tenants
        .set_current_epoch(t.id, 1, 2)
        .await
        .unwrap();
    assert_eq!(
        h.stores
            .tenants
            .get_tenant(t.id)
            .await
            .unwrap()
            .unwrap()
            .current_epoch,
        2
    );
    assert!(is_conflict(
        h.stores.tenants.set_current_epoch(t.id, 1, 3).await
    ));
    assert!(is_conflict(
        h.stores
            .tenants
            .set_current_epoch(TenantId::random(), 1, 2)
            .await
    ));
    assert_eq!(
        h.stores
            .tenants
            .get_tenant(t.id)
            .await
            .unwrap()
            .unwrap()
            .current_epoch,
        2
    );
}

async fn kms_context_binding(h: Harness) {
    let a = new_tenant(&h, "A").await;
    let b = new_tenant(&h, "B").await;
    assert_ne!(a.key_ref, b.key_ref);
    let (plain, wrapped) = h
        .stores
        .keys
        .generate_tenant_key(a.id, &a.key_ref, KeyPurpose::TenantKey { epoch: 1 })
        .await
        .unwrap();
    assert_eq!(plain.len(), 32);
    assert!(!wrapped.windows(plain.len()).any(|w| w == &plain[..]));
    let back = h
        .stores
        .keys
        .unwrap_tenant_key(
            a.id,
            &a.key_ref,
            KeyPurpose::TenantKey { epoch: 1 },
            &wrapped,
        )
        .await
        .unwrap();
    assert_eq!(&back[..], &plain[..]);
    // Another tenant's context (with A's key, or with B's own) must fail.
    assert!(
        h.stores
            .keys
            .unwrap_tenant_key(
                b.id,
                &a.key_ref,
                KeyPurpose::TenantKey { epoch: 1 },
                &wrapped
            )
            .await
            .is_err()
    );
    assert!(
        h.stores
            .keys
            .unwrap_tenant_key(
                b.id,
                &b.key_ref,
                KeyPurpose::TenantKey { epoch: 1 },
                &wrapped
            )
            .await
            .is_err()
    );
    let mut tampered = wrapped.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        h.stores
            .keys
            .unwrap_tenant_key(
                a.id,
                &a.key_ref,
                KeyPurpose::TenantKey { epoch: 1 },
                &tampered
            )
            .await
            .is_err()
    );
    // The purpose is bound in: the epoch-1 tenant key does not unwrap as another epoch's, as
    // a wipe seed, or under the context of keys wrapped before purposes existed.
    for other in [
        KeyPurpose::TenantKey { epoch: 2 },
        KeyPurpose::WipeSeed,
        KeyPurpose::Legacy,
    ] {
        assert!(
            h.stores
                .keys
                .unwrap_tenant_key(a.id, &a.key_ref, other, &wrapped)
                .await
                .is_err(),
            "{other:?}"
        );
    }
}

async fn invites_and_ceremonies_are_consumed_once(h: Harness) {
    let t = TenantId::random();
    let now = now_ms();
    let ids = &h.stores.identity;

    ids.put_invite(t, &invite("code-1", now + 60_000))
        .await
        .unwrap();
    let s = h.stores.clone();
    let won = race(h.racers, || {
        let s = s.clone();
        async move { s.identity.take_invite(t, "code-1", now).await }
    })
    .await;
    assert_eq!(won, 1, "exactly one taker gets the invite");
    assert_eq!(ids.take_invite(t, "code-1", now).await.unwrap(), None);
    assert_eq!(ids.take_invite(t, "never-issued", now).await.unwrap(), None);

    let inv = invite("code-2", now + 60_000);
    ids.put_invite(t, &inv).await.unwrap();
    assert_eq!(ids.take_invite(t, "code-2", now).await.unwrap(), Some(inv));

    // Expired: not returned, and consumed anyway (not takeable later with an earlier clock).
    ids.put_invite(t, &invite("code-3", now - 1)).await.unwrap();
    assert_eq!(ids.take_invite(t, "code-3", now).await.unwrap(), None);
    assert_eq!(
        ids.take_invite(t, "code-3", now - 10_000).await.unwrap(),
        None
    );
    ids.put_invite(t, &invite("code-4", now)).await.unwrap();
    assert_eq!(
        ids.take_invite(t, "code-4", now).await.unwrap(),
        None,
        "expiry is exclusive"
    );

    ids.put_ceremony(t, &ceremony("cer-1", now + 60_000))
        .await
        .unwrap();
    let won = race(h.racers, || {
        let s = s.clone();
        async move { s.identity.take_ceremony(t, "cer-1", now).await }
    })
    .await;
    assert_eq!(won, 1, "exactly one taker gets the ceremony");
    assert_eq!(ids.take_ceremony(t, "cer-1", now).await.unwrap(), None);
    let c = ceremony("cer-2", now + 60_000);
    ids.put_ceremony(t, &c).await.unwrap();
    assert_eq!(ids.take_ceremony(t, "cer-2", now).await.unwrap(), Some(c));
    ids.put_ceremony(t, &ceremony("cer-3", now - 5))
        .await
        .unwrap();
    assert_eq!(ids.take_ceremony(t, "cer-3", now).await.unwrap(), None);
}

async fn users_credentials_and_care_teams(h: Harness) {
    let t = TenantId::random();
    let ids = &h.stores.identity;
    let mut alice = user("Alice");
    let bob = user("Bob");
    ids.put_user(t, &alice).await.unwrap();
    ids.put_user(t, &bob).await.unwrap();
    assert_eq!(
        ids.get_user(t, alice.user_id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(ids.get_user(t, uuid::Uuid::new_v4()).await.unwrap(), None);
    alice.display_name = "Alice B.".into();
    ids.put_user(t, &alice).await.unwrap();
    let mut want = vec![alice.clone(), bob.clone()];
    want.sort_by_key(|u| u.user_id.to_string());
    assert_eq!(ids.list_users(t).await.unwrap(), want);

    let cred = |u: &User, id: &str| Credential {
        user_id: u.user_id,
        credential_id: id.into(),
        passkey: serde_json::json!({"cred": id}),
        created_at_ms: 5,
    };
    ids.put_credential(t, &cred(&alice, "a1")).await.unwrap();
    ids.put_credential(t, &cred(&alice, "a2")).await.unwrap();
    ids.put_credential(t, &cred(&bob, "b1")).await.unwrap();
    let mine = ids.credentials(t, alice.user_id).await.unwrap();
    assert_eq!(mine, vec![cred(&alice, "a1"), cred(&alice, "a2")]);
    assert_eq!(
        ids.credentials(t, bob.user_id).await.unwrap(),
        vec![cred(&bob, "b1")]
    );
    assert!(
        ids.credentials(t, uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_empty()
    );

    let client = ObjectId::random();
    assert!(!ids.on_care_team(t, client, alice.user_id).await.unwrap());
    ids.add_care_team(t, client, alice.user_id).await.unwrap();
    ids.add_care_team(t, client, alice.user_id).await.unwrap();
    assert!(ids.on_care_team(t, client, alice.user_id).await.unwrap());
    assert!(!ids.on_care_team(t, client, bob.user_id).await.unwrap());
    assert!(
        !ids.on_care_team(t, ObjectId::random(), alice.user_id)
            .await
            .unwrap()
    );
}

async fn devices_sessions_and_nonces(h: Harness) {
    let t = TenantId::random();
    let ds = &h.stores.devices;
    let u = uuid::Uuid::new_v4();
    let d = device(u, DeviceStatus::Pending);
    let e = device(u, DeviceStatus::Active);
    ds.create_device(t, &d).await.unwrap();
    ds.create_device(t, &e).await.unwrap();
    assert!(is_conflict(ds.create_device(t, &d).await));
    assert_eq!(
        ds.get_device(t, d.device_id).await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(ds.get_device(t, DeviceId::random()).await.unwrap(), None);
    let mut want = vec![d.clone(), e.clone()];
    want.sort_by_key(|x| x.device_id.to_string());
    assert_eq!(ds.list_devices(t).await.unwrap(), want);

    // Lifecycle moves only from an allowed state.
    let active = DeviceStatus::Active;
    assert!(
        ds.set_device_status(t, d.device_id, &[DeviceStatus::Pending], active)
            .await
            .unwrap()
    );
    assert!(
        !ds.set_device_status(t, d.device_id, &[DeviceStatus::Pending], active)
            .await
            .unwrap()
    );
    assert!(
        !ds.set_device_status(t, d.device_id, &[], DeviceStatus::Revoked)
            .await
            .unwrap()
    );
    let from = [
        DeviceStatus::Pending,
        DeviceStatus::Active,
        DeviceStatus::Active,
    ];
    assert!(
        ds.set_device_status(t, d.device_id, &from, DeviceStatus::Revoked)
            .await
            .unwrap()
    );
    assert!(
        !ds.set_device_status(t, DeviceId::random(), &from, DeviceStatus::Revoked)
            .await
            .unwrap()
    );
    assert_eq!(ds.get_device(t, DeviceId::random()).await.unwrap(), None);
    let got = ds.get_device(t, d.device_id).await.unwrap().unwrap();
    assert_eq!(got.status, DeviceStatus::Revoked);
    assert_eq!(got.name, d.name);

    // last_seen only moves forward; touching an unknown device creates nothing.
    ds.touch_device(t, d.device_id, 100).await.unwrap();
    ds.touch_device(t, d.device_id, 50).await.unwrap();
    assert_eq!(
        ds.get_device(t, d.device_id)
            .await
            .unwrap()
            .unwrap()
            .last_seen_ms,
        100
    );
    let ghost = DeviceId::random();
    ds.touch_device(t, ghost, 100).await.unwrap();
    assert_eq!(ds.get_device(t, ghost).await.unwrap(), None);

    // Sessions.
    let (s1, s2, s3) = (session(&d, "s1"), session(&d, "s2"), session(&e, "s3"));
    for s in [&s1, &s2, &s3] {
        ds.put_session(t, s).await.unwrap();
    }
    assert_eq!(
        ds.get_session(t, d.device_id, "s1").await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(ds.get_session(t, e.device_id, "s1").await.unwrap(), None);
    ds.mark_authenticated(t, d.device_id, "s1", 777)
        .await
        .unwrap();
    ds.mark_authenticated(t, d.device_id, "nope", 777)
        .await
        .unwrap();
    assert_eq!(ds.get_session(t, d.device_id, "nope").await.unwrap(), None);
    let got = ds.get_session(t, d.device_id, "s1").await.unwrap().unwrap();
    assert_eq!(got.authenticated_at_ms, 777);
    assert_eq!(ds.revoke_device_sessions(t, d.device_id).await.unwrap(), 2);
    assert_eq!(ds.revoke_device_sessions(t, d.device_id).await.unwrap(), 0);
    assert!(
        ds.get_session(t, d.device_id, "s2")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        !ds.get_session(t, e.device_id, "s3")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    // Re-putting a session replaces it entirely.
    ds.put_session(t, &s2).await.unwrap();
    assert_eq!(
        ds.get_session(t, d.device_id, "s2").await.unwrap(),
        Some(s2)
    );

    // Nonces: first use only, until they expire; scoped per device.
    assert!(
        ds.use_nonce(t, d.device_id, "n1", 1_000, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !ds.use_nonce(t, d.device_id, "n1", 1_500, 2_500)
            .await
            .unwrap()
    );
    assert!(
        ds.use_nonce(t, e.device_id, "n1", 1_500, 2_500)
            .await
            .unwrap()
    );
    assert!(
        ds.use_nonce(t, d.device_id, "n1", 2_000, 3_000)
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !ds.use_nonce(t, d.device_id, "n1", 2_999, 4_000)
            .await
            .unwrap()
    );
    let s = h.stores.clone();
    let dev = d.device_id;
    let won = race(h.racers, || {
        let s = s.clone();
        async move {
            let first = s.devices.use_nonce(t, dev, "raced", 10, 20).await?;
            Ok(first.then_some(()))
        }
    })
    .await;
    assert_eq!(won, 1, "exactly one request wins a nonce");
}

async fn objects_feed_and_uploads(h: Harness) {
    let t = TenantId::random();
    let os = &h.stores.objects;
    let key = TenantKey::generate(1).unwrap();
    let a = sealed(t, &key, Kind::Note, b"note one");
    assert_eq!(
        os.put_object(t, &a).await.unwrap(),
        PutOutcome::Created { seq: 1 }
    );
    assert_eq!(
        os.put_object(t, &a).await.unwrap(),
        PutOutcome::Duplicate { seq: 1 }
    );
    let mut other_bytes = a.clone();
    other_bytes.sha256 = sha_hex(b"different");
    other_bytes.envelope = Some(b"different".to_vec());
    assert_eq!(
        os.put_object(t, &other_bytes).await.unwrap(),
        PutOutcome::Conflict
    );

    let mut a2 = sealed(t, &key, Kind::Note, b"note one, amended");
    a2.object_id = a.object_id;
    a2.parent_version = Some(a.version_id);
    let b = sealed(t, &key, Kind::Client, b"client");
    // A photo's content lives in blobs: no inline envelope.
    let photo = stored(
        ObjectId::random(),
        VersionId::random(),
        Kind::PhotoContent,
        None,
        9,
    );
    assert_eq!(
        os.put_object(t, &a2).await.unwrap(),
        PutOutcome::Created { seq: 2 }
    );
    assert_eq!(
        os.put_object(t, &b).await.unwrap(),
        PutOutcome::Created { seq: 3 }
    );
    assert_eq!(
        os.put_object(t, &photo).await.unwrap(),
        PutOutcome::Created { seq: 4 }
    );
    assert_eq!(
        os.put_object(t, &a).await.unwrap(),
        PutOutcome::Duplicate { seq: 1 }
    );

    let with_seq = |o: &StoredObject, seq| StoredObject { seq, ..o.clone() };
    let all = os.changes(t, 0, 100).await.unwrap();
    let want = vec![
        with_seq(&a, 1),
        with_seq(&a2, 2),
        with_seq(&b, 3),
        with_seq(&photo, 4),
    ];
    assert_eq!(all, want);
    assert_eq!(os.changes(t, 1, 1).await.unwrap(), vec![with_seq(&a2, 2)]);
    assert!(os.changes(t, 4, 10).await.unwrap().is_empty());
    assert!(os.changes(t, 0, 0).await.unwrap().is_empty());
    // Paging with a small limit visits every version once, in order.
    let (mut after, mut seen) = (0, Vec::new());
    loop {
        let page = os.changes(t, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|o| o.seq));
    }
    assert_eq!(seen, [1, 2, 3, 4]);

    assert!(os.has_object(t, a.object_id).await.unwrap());
    assert!(os.has_object(t, photo.object_id).await.unwrap());
    assert!(!os.has_object(t, ObjectId::random()).await.unwrap());
    // One version of an object says what it is (any of its versions).
    let any = os.any_version(t, a.object_id).await.unwrap().unwrap();
    assert_eq!((any.object_id, any.kind), (a.object_id, a.kind));
    assert!([a.version_id, a2.version_id].contains(&any.version_id));
    assert!(
        os.any_version(t, ObjectId::random())
            .await
            .unwrap()
            .is_none()
    );
    // The batched form: only the objects that exist, each with its kind.
    let missing = ObjectId::random();
    let found = os
        .any_versions(t, &[a.object_id, photo.object_id, missing])
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[&a.object_id].kind, a.kind);
    assert_eq!(found[&photo.object_id].object_id, photo.object_id);
    assert!(!found.contains_key(&missing));
    assert_eq!(
        os.get_object(t, a.object_id, a.version_id).await.unwrap(),
        Some(with_seq(&a, 1))
    );
    assert_eq!(
        os.get_object(t, a.object_id, a2.version_id).await.unwrap(),
        Some(with_seq(&a2, 2))
    );
    assert_eq!(
        os.get_object(t, a.object_id, VersionId::random())
            .await
            .unwrap(),
        None
    );
    // The stored envelope still opens: the same ciphertext everywhere.
    let got = os
        .get_object(t, b.object_id, b.version_id)
        .await
        .unwrap()
        .unwrap();
    let expected = ObjectRef {
        tenant: t,
        object: b.object_id,
        version: b.version_id,
        kind: Kind::Client,
    };
    let plain = Envelope::open(&expected, &key, got.envelope.as_deref().unwrap()).unwrap();
    assert_eq!(plain, b"client");

    // Concurrent writers get distinct, gap-free positions.
    let s = h.stores.clone();
    let mut outcomes = Vec::new();
    if h.racers > 1 {
        let tasks: Vec<_> = (0..h.racers * 2)
            .map(|i| {
                let s = s.clone();
                let o = sealed(t, &key, Kind::Note, format!("concurrent {i}").as_bytes());
                tokio::spawn(async move { s.objects.put_object(t, &o).await })
            })
            .collect();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
    } else {
        // Serial on emulators (see `racers`).
        for i in 0..4 {
            let o = sealed(t, &key, Kind::Note, format!("serial {i}").as_bytes());
            outcomes.push(s.objects.put_object(t, &o).await);
        }
    }
    let mut seqs = Vec::new();
    for outcome in outcomes {
        match outcome.unwrap() {
            PutOutcome::Created { seq } => seqs.push(seq),
            other => panic!("{other:?}"),
        }
    }
    seqs.sort_unstable();
    let n = seqs.len() as u64;
    assert_eq!(seqs, (5..5 + n).collect::<Vec<_>>());
    let feed: Vec<u64> = os
        .changes(t, 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(feed, (1..5 + n).collect::<Vec<_>>());

    // Upload state.
    let up = UploadState {
        object_id: photo.object_id,
        version_id: photo.version_id,
        client_id: ObjectId::random(),
        upload_id: "upload-1".into(),
        size: 9,
        part_size: 8,
        device_id: DeviceId::random(),
        created_at_ms: 1,
        completed: false,
    };
    assert_eq!(
        os.get_upload(t, up.object_id, up.version_id).await.unwrap(),
        None
    );
    os.put_upload(t, &up).await.unwrap();
    assert_eq!(
        os.get_upload(t, up.object_id, up.version_id).await.unwrap(),
        Some(up.clone())
    );
    let done = UploadState {
        completed: true,
        ..up.clone()
    };
    os.put_upload(t, &done).await.unwrap();
    assert_eq!(
        os.get_upload(t, up.object_id, up.version_id).await.unwrap(),
        Some(done)
    );
    assert_eq!(
        os.get_upload(t, up.object_id, VersionId::random())
            .await
            .unwrap(),
        None
    );
}

async fn audit_is_append_only_newest_first(h: Harness) {
    let t = TenantId::random();
    let rec = |i: i64| AuditRecord {
        at_ms: 1_000 + i,
        actor: format!("user-{i}"),
        device_id: (i % 2 == 0).then(|| DeviceId::from_bytes([i as u8; 16])),
        action: "object.view".into(),
        target: Some(format!("obj-{i}")),
    };
    assert!(h.stores.audit.recent(t, 10).await.unwrap().is_empty());
    for i in 0..7 {
        h.stores.audit.append(t, &rec(i)).await.unwrap();
    }
    // Identical records are separate events, never merged.
    h.stores.audit.append(t, &rec(6)).await.unwrap();
    let recent = h.stores.audit.recent(t, 3).await.unwrap();
    assert_eq!(recent, vec![rec(6), rec(6), rec(5)]);
    let all = h.stores.audit.recent(t, 100).await.unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all[7], rec(0));
    assert!(h.stores.audit.recent(t, 0).await.unwrap().is_empty());
}

async fn audit_entries_filters_cursors_and_chains(h: Harness) {
    use ward_backend::model::{AuditEntry, AuditSource, ChainFlag, ChainLink};
    use ward_backend::store::{AuditQuery, ChainEntry};
    let t = TenantId::random();
    let (d1, d2) = (DeviceId::random(), DeviceId::random());
    let (c1, c2) = (ObjectId::random(), ObjectId::random());
    // 130 entries in one batch (more than one DynamoDB transaction): alternating devices and
    // clients, one without a device.
    let entry = |i: i64| {
        let mut e = AuditEntry::from(AuditRecord {
            at_ms: 10_000 + i,
            actor: format!("user-{}", i % 3),
            device_id: match i % 5 {
                0 => None,
                1 | 3 => Some(d1),
                _ => Some(d2),
            },
            action: if i % 2 == 0 {
                "client.deliver".into()
            } else {
                "client.create".into()
            },
            target: Some(format!("t{i}")),
        });
        e.client = Some(if i % 4 == 0 { c1 } else { c2 });
        e.count = Some(i as u64);
        e
    };
    let all: Vec<AuditEntry> = (0..130).map(entry).collect();
    h.stores.audit.append_entries(t, &all).await.unwrap();
    h.stores.audit.append_entries(t, &[]).await.unwrap();
    // Batched entries also read as plain records, newest first.
    let recent = h.stores.audit.recent(t, 2).await.unwrap();
    assert_eq!(
        recent,
        vec![all[129].record.clone(), all[128].record.clone()]
    );

    let q = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 1000,
            oldest_first: true,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let expect = |qq: &AuditQuery| -> Vec<AuditEntry> {
        all.iter().filter(|e| qq.matches(e)).cloned().collect()
    };
    let filters: Vec<AuditQuery> = vec![
        q(&|_| {}),
        q(&|q| q.device = Some(d1)),
        q(&|q| q.device = Some(d2)),
        q(&|q| q.actor = Some("user-1".into())),
        q(&|q| q.action = Some("client.create".into())),
        q(&|q| q.client = Some(c1)),
        q(&|q| {
            q.since_ms = Some(10_050);
            q.until_ms = Some(10_060)
        }),
        q(&|q| {
            q.device = Some(d2);
            q.client = Some(c2);
            q.action = Some("client.deliver".into())
        }),
    ];
    for f in &filters {
        let page = h.stores.audit.query(t, f).await.unwrap();
        let got: Vec<AuditEntry> = page.entries.into_iter().map(|(_, e)| e).collect();
        assert_eq!(got, expect(f), "{f:?}");
        assert!(page.next.is_none());
    }
    assert_eq!(expect(&filters[6]).len(), 10);
    // Cursor pagination, both directions, with a device filter: each entry once, in order.
    for oldest_first in [true, false] {
        let mut f = q(&|q| q.device = Some(d1));
        f.limit = 7;
        f.oldest_first = oldest_first;
        let mut seen = Vec::new();
        loop {
            let page = h.stores.audit.query(t, &f).await.unwrap();
            assert!(page.entries.len() <= 7);
            seen.extend(page.entries.into_iter().map(|(_, e)| e));
            match page.next {
                Some(n) => f.after = Some(n),
                None => break,
            }
        }
        let mut want = expect(&q(&|q| q.device = Some(d1)));
        if !oldest_first {
            want.reverse();
        }
        assert_eq!(seen, want, "oldest_first={oldest_first}");
    }
    // Another tenant sees none of it; limit 0 reads nothing.
    let other = h
        .stores
        .audit
        .query(TenantId::random(), &q(&|_| {}))
        .await
        .unwrap();
    assert!(other.entries.is_empty());
    assert!(
        h.stores
            .audit
            .query(t, &q(&|q| q.limit = 0))
            .await
            .unwrap()
            .entries
            .is_empty()
    );

    // Device chains: head, links by range, and an event accepted only once.
    assert_eq!(h.stores.audit.chain_head(t, d1).await.unwrap(), None);
    let link = |seq: u64, flag: Option<ChainFlag>| ChainLink {
        seq,
        hash: [seq as u8; 32],
        flag,
    };
    let chain_entry = |seq: u64, flag: Option<ChainFlag>, extra: usize| {
        let mut e = AuditEntry::from(AuditRecord {
            at_ms: seq as i64,
            actor: "user-0".into(),
            device_id: Some(d1),
            action: "view".into(),
            target: None,
        });
        e.source = AuditSource::Device;
        let mut entries = vec![e.clone()];
        for _ in 0..extra {
            let mut flag_entry = e.clone();
            flag_entry.source = AuditSource::Server;
            flag_entry.record.action = "audit.chain_gap".into();
            entries.push(flag_entry);
        }
        ChainEntry {
            link: link(seq, flag),
            entries,
        }
    };
    // 60 events (more than one DynamoDB transaction of links and entries).
    let first: Vec<ChainEntry> = (1..=60)
        .map(|s| chain_entry(s, (s == 30).then_some(ChainFlag::Gap), usize::from(s == 30)))
        .collect();
    assert_eq!(
        h.stores.audit.append_chain(t, d1, &first).await.unwrap(),
        60
    );
    assert_eq!(
        h.stores.audit.chain_head(t, d1).await.unwrap(),
        Some(link(60, None))
    );
    assert_eq!(h.stores.audit.chain_head(t, d2).await.unwrap(), None);
    let links = h.stores.audit.chain_links(t, d1, 29, 31).await.unwrap();
    assert_eq!(
        links,
        vec![
            link(29, None),
            link(30, Some(ChainFlag::Gap)),
            link(31, None)
        ]
    );
    assert!(
        h.stores
            .audit
            .chain_links(t, d1, 61, 70)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.stores
            .audit
            .chain_links(t, d2, 1, 70)
            .await
            .unwrap()
            .is_empty()
    );
    // Re-storing seq 60 stops there: 61 first goes in, 60 refuses, 62 is not tried.
    let again = vec![
        chain_entry(61, None, 0),
        chain_entry(60, None, 0),
        chain_entry(62, None, 0),
    ];
    assert_eq!(h.stores.audit.append_chain(t, d1, &again).await.unwrap(), 1);
    assert_eq!(
        h.stores.audit.chain_head(t, d1).await.unwrap(),
        Some(link(61, None))
    );
    // The chain's entries are in the log (61 device events, 1 flag entry) under device d1.
    let dev = h
        .stores
        .audit
        .query(t, &q(&|q| q.action = Some("view".into())))
        .await
        .unwrap();
    assert_eq!(dev.entries.len(), 61);
    assert!(
        dev.entries
            .iter()
            .all(|(_, e)| e.source == AuditSource::Device)
    );
    let flags = h
        .stores
        .audit
        .query(
            t,
            &q(&|q| {
                q.device = Some(d1);
                q.action = Some("audit.chain_gap".into())
            }),
        )
        .await
        .unwrap();
    assert_eq!(flags.entries.len(), 1);
}

async fn blobs_multipart_resume_and_download(h: Harness) {
    let t = new_tenant(&h, "Photos").await;
    let tenant_key = TenantKey::generate(1).unwrap();
    let bk = BlobKey {
        object: ObjectId::random(),
        version: VersionId::random(),
    };
    let photo = fake_jpeg("MARKER-BLOB-PHOTO", 5 * 1024 * 1024 + 300_000);
    let envelope = Envelope::seal(
        ObjectRef {
            tenant: t.id,
            object: bk.object,
            version: bk.version,
            kind: Kind::PhotoContent,
        },
        &tenant_key,
        &photo,
    )
    .unwrap();
    // S3's minimum part size (5 MiB) for every part but the last.
    let part_size = 5 * 1024 * 1024;
    let (p1, p2) = envelope.split_at(part_size);

    let blobs = &h.stores.blobs;
    assert_eq!(blobs.blob_size(t.id, bk).await.unwrap(), None);
    let upload = blobs.create_upload(t.id, bk).await.unwrap();
    assert!(
        blobs
            .list_parts(t.id, bk, &upload)
            .await
            .unwrap()
            .is_empty()
    );
    let url1 = blobs.presign_part(t.id, bk, &upload, 1, 300).await.unwrap();
    let etag1 = h.put_part(&url1, p1.to_vec()).await;
    // Resume: the server says which parts it already has.
    let have = blobs.list_parts(t.id, bk, &upload).await.unwrap();
    assert_eq!(
        have.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
        [(1, p1.len() as u64)]
    );
    assert_eq!(have[0].etag, etag1);
    let url2 = blobs.presign_part(t.id, bk, &upload, 2, 300).await.unwrap();
    h.put_part(&url2, p2.to_vec()).await;
    let parts = blobs.list_parts(t.id, bk, &upload).await.unwrap();
    assert_eq!(
        parts.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
        [(1, p1.len() as u64), (2, p2.len() as u64)]
    );
    // Parts must be 1..n in order.
    let backwards = vec![parts[1].clone(), parts[0].clone()];
    assert!(is_conflict(
        blobs.complete_upload(t.id, bk, &upload, &backwards).await
    ));
    blobs
        .complete_upload(t.id, bk, &upload, &parts)
        .await
        .unwrap();
    assert_eq!(
        blobs.blob_size(t.id, bk).await.unwrap(),
        Some(envelope.len() as u64)
    );
    assert!(
        blobs
            .list_parts(t.id, bk, &upload)
            .await
            .unwrap()
            .is_empty()
    );

    let url = blobs.presign_get(t.id, bk, 300).await.unwrap();
    let got = h.get_blob(&url).await.unwrap();
    assert!(
        got == envelope,
        "downloaded blob differs ({} bytes)",
        got.len()
    );
    let expected = ObjectRef {
        tenant: t.id,
        object: bk.object,
        version: bk.version,
        kind: Kind::PhotoContent,
    };
    assert!(Envelope::open(&expected, &tenant_key, &got).unwrap() == photo);

    // A part whose ETag no longer matches cannot be completed.
    let bk2 = BlobKey {
        object: ObjectId::random(),
        version: VersionId::random(),
    };
    let up2 = blobs.create_upload(t.id, bk2).await.unwrap();
    let u = blobs.presign_part(t.id, bk2, &up2, 1, 300).await.unwrap();
    h.put_part(&u, b"small final part".to_vec()).await;
    let wrong = vec![PartInfo {
        number: 1,
        etag: "\"0123456789abcdef0123456789abcdef\"".into(),
        size: 16,
    }];
    assert!(is_conflict(
        blobs.complete_upload(t.id, bk2, &up2, &wrong).await
    ));
    let right = blobs.list_parts(t.id, bk2, &up2).await.unwrap();
    blobs
        .complete_upload(t.id, bk2, &up2, &right)
        .await
        .unwrap();
    assert_eq!(blobs.blob_size(t.id, bk2).await.unwrap(), Some(16));
}

async fn tenant_isolation(h: Harness) {
    let a = new_tenant(&h, "A").await;
    let b = new_tenant(&h, "B").await;
    let (ta, tb) = (a.id, b.id);
    let now = now_ms();
    let s = &h.stores;

    // Tenant A gets one of everything.
    let alice = user("Alice");
    s.identity.put_user(ta, &alice).await.unwrap();
    let cred = Credential {
        user_id: alice.user_id,
        credential_id: "cred".into(),
        passkey: serde_json::json!({}),
        created_at_ms: now,
    };
    s.identity.put_credential(ta, &cred).await.unwrap();
    s.identity
        .put_invite(ta, &invite("inv", now + 60_000))
        .await
        .unwrap();
    s.identity
        .put_ceremony(ta, &ceremony("cer", now + 60_000))
        .await
        .unwrap();
    let client = ObjectId::random();
    s.identity
        .add_care_team(ta, client, alice.user_id)
        .await
        .unwrap();
    let d = device(alice.user_id, DeviceStatus::Active);
    s.devices.create_device(ta, &d).await.unwrap();
    s.devices
        .put_session(ta, &session(&d, "sess"))
        .await
        .unwrap();
    assert!(
        s.devices
            .use_nonce(ta, d.device_id, "nonce", now, now + 60_000)
            .await
            .unwrap()
    );
    let key = TenantKey::generate(1).unwrap();
    let o = sealed(ta, &key, Kind::Note, b"A's note");
    s.objects.put_object(ta, &o).await.unwrap();
    let up = UploadState {
        object_id: o.object_id,
        version_id: o.version_id,
        client_id: client,
        upload_id: "u".into(),
        size: 1,
        part_size: 1,
        device_id: d.device_id,
        created_at_ms: now,
        completed: false,
    };
    s.objects.put_upload(ta, &up).await.unwrap();
    s.audit
        .append(
            ta,
            &AuditRecord {
                at_ms: now,
                actor: "alice".into(),
                device_id: None,
                action: "object.view".into(),
                target: None,
            },
        )
        .await
        .unwrap();
    let bk = BlobKey {
        object: o.object_id,
        version: o.version_id,
    };
    let upload = s.blobs.create_upload(ta, bk).await.unwrap();
    let url = s.blobs.presign_part(ta, bk, &upload, 1, 300).await.unwrap();
    h.put_part(&url, b"A's blob".to_vec()).await;

    // Tenant B sees none of it, through every read method.
    assert_eq!(s.tenants.tenant_keys(tb).await.unwrap().len(), 1);
    assert_eq!(s.identity.get_user(tb, alice.user_id).await.unwrap(), None);
    assert!(s.identity.list_users(tb).await.unwrap().is_empty());
    assert!(
        s.identity
            .credentials(tb, alice.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.identity.take_invite(tb, "inv", now).await.unwrap(), None);
    assert_eq!(
        s.identity.take_ceremony(tb, "cer", now).await.unwrap(),
        None
    );
    assert!(
        !s.identity
            .on_care_team(tb, client, alice.user_id)
            .await
            .unwrap()
    );
    assert_eq!(s.devices.get_device(tb, d.device_id).await.unwrap(), None);
    assert!(s.devices.list_devices(tb).await.unwrap().is_empty());
    assert_eq!(
        s.devices
            .get_session(tb, d.device_id, "sess")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.devices
            .revoke_device_sessions(tb, d.device_id)
            .await
            .unwrap(),
        0
    );
    let all = [DeviceStatus::Active];
    assert!(
        !s.devices
            .set_device_status(tb, d.device_id, &all, DeviceStatus::Revoked)
            .await
            .unwrap()
    );
    s.devices
        .touch_device(tb, d.device_id, now + 5)
        .await
        .unwrap();
    s.devices
        .mark_authenticated(tb, d.device_id, "sess", now + 5)
        .await
        .unwrap();
    assert!(s.objects.changes(tb, 0, 100).await.unwrap().is_empty());
    assert!(!s.objects.has_object(tb, o.object_id).await.unwrap());
    assert_eq!(
        s.objects
            .get_object(tb, o.object_id, o.version_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.objects
            .get_upload(tb, o.object_id, o.version_id)
            .await
            .unwrap(),
        None
    );
    assert!(
        s.audit
            .recent(tb, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.action == "tenant.create")
    );
    assert!(
        s.blobs
            .list_parts(tb, bk, &upload)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.blobs.blob_size(tb, bk).await.unwrap(), None);
    let parts = s.blobs.list_parts(ta, bk, &upload).await.unwrap();
    assert!(
        s.blobs
            .complete_upload(tb, bk, &upload, &parts)
            .await
            .is_err()
    );
    assert_eq!(s.blobs.blob_size(tb, bk).await.unwrap(), None);

    // …and A's data is untouched by B's attempts.
    let dev = s
        .devices
        .get_device(ta, d.device_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((dev.status, dev.last_seen_ms), (DeviceStatus::Active, 0));
    let sess = s
        .devices
        .get_session(ta, d.device_id, "sess")
        .await
        .unwrap()
        .unwrap();
    assert!(!sess.revoked);
    assert_eq!(sess.authenticated_at_ms, 1);
    assert!(
        s.identity
            .take_invite(ta, "inv", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.identity
            .take_ceremony(ta, "cer", now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.objects.changes(ta, 0, 100).await.unwrap().len(), 1);
    s.blobs
        .complete_upload(ta, bk, &upload, &parts)
        .await
        .unwrap();
    assert_eq!(s.blobs.blob_size(ta, bk).await.unwrap(), Some(8));
    assert_eq!(s.blobs.blob_size(tb, bk).await.unwrap(), None);
}

async fn no_plaintext_at_rest(h: Harness) {
    let t = new_tenant(&h, "Scan clinic").await;
    let key = TenantKey::generate(1).unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let markers: Vec<String> = ["CLIENT-NAME", "NOTE-TEXT", "CONSENT", "THUMB", "PHOTO"]
        .iter()
        .map(|m| format!("MARKER-{m}-{run}"))
        .collect();
    let kinds = [Kind::Client, Kind::Note, Kind::Consent];
    for (m, kind) in markers.iter().zip(kinds) {
        let plain = format!("{{\"text\": \"{m}\", \"more\": \"{m} {m}\"}}");
        let o = sealed(t.id, &key, kind, plain.as_bytes());
        h.stores.objects.put_object(t.id, &o).await.unwrap();
    }
    let thumb = sealed(t.id, &key, Kind::Thumbnail, &fake_jpeg(&markers[3], 20_000));
    h.stores.objects.put_object(t.id, &thumb).await.unwrap();

    let bk = BlobKey {
        object: ObjectId::random(),
        version: VersionId::random(),
    };
    let photo = fake_jpeg(&markers[4], 200_000);
    let env = Envelope::seal_stated(
        ObjectRef {
            tenant: t.id,
            object: bk.object,
            version: bk.version,
            kind: Kind::PhotoContent,
        },
        None,
        &key,
        &photo,
    )
    .unwrap();
    let up = h.stores.blobs.create_upload(t.id, bk).await.unwrap();
    let url = h
        .stores
        .blobs
        .presign_part(t.id, bk, &up, 1, 300)
        .await
        .unwrap();
    h.put_part(&url, env.clone()).await;
    let parts = h.stores.blobs.list_parts(t.id, bk, &up).await.unwrap();
    h.stores
        .blobs
        .complete_upload(t.id, bk, &up, &parts)
        .await
        .unwrap();

    let stored = h.at_rest().await;
    let total: usize = stored.iter().map(|(_, b)| b.len()).sum();
    assert!(
        total > env.len(),
        "the scan must see the data ({total} bytes)"
    );
    assert!(
        stored
            .iter()
            .any(|(_, b)| b.windows(64).any(|w| w == &env[200..264])),
        "the photo envelope is among the scanned bytes"
    );
    let mut needles: Vec<&[u8]> = markers.iter().map(|m| m.as_bytes()).collect();
    needles.push(b"JFIF\0");
    needles.push(b"Exif\0\0");
    needles.push(b"pixel data pixel data");
    for (place, bytes) in &stored {
        let found = ward_testkit::scan_for_markers(bytes, &needles);
        assert!(found.is_empty(), "plaintext {found:?} at rest in {place}");
        assert!(
            !bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            "JPEG stored in the clear: {place}"
        );
    }
}

// ---------------------------------------------------------------- generation

async fn lifecycle_policy_wipe_and_quarantine(h: Harness) {
    use ward_backend::model::{QuarantineItem, QuarantineStatus, TenantPolicy, WipeState};
    let t = new_tenant(&h, "Lifecycle").await;
    let other = new_tenant(&h, "Other").await;
    // The wipe key exists from creation; policies start at their defaults and can change.
    assert!(t.wipe_key.is_some());
    assert_eq!(t.policy, TenantPolicy::default());
    let policy = TenantPolicy {
        rescue_on_wipe: false,
        idle_lock_seconds: 120,
        ..TenantPolicy::default()
    };
    h.stores
        .lifecycle
        .set_tenant_policy(t.id, &policy)
        .await
        .unwrap();
    let got = h.stores.tenants.get_tenant(t.id).await.unwrap().unwrap();
    assert_eq!(got.policy, policy);
    assert_eq!(
        got.current_epoch, 1,
        "a policy change leaves the epoch alone"
    );
    let untouched = h
        .stores
        .tenants
        .get_tenant(other.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.policy, TenantPolicy::default());

    // Wipe state rides with the device; the status stays authoritative.
    let d = device(uuid::Uuid::new_v4(), DeviceStatus::Active);
    h.stores.devices.create_device(t.id, &d).await.unwrap();
    let signer = ward_proto::wipe::WipeSigner::from_seed(&[3u8; 32]).unwrap();
    let signed = signer
        .sign(&ward_proto::wipe::WipeCommand {
            version: 1,
            tenant: t.id,
            device: d.device_id,
            command_id: "cmd".into(),
            issued_at_ms: 1,
            rescue: true,
        })
        .unwrap();
    let wipe = WipeState {
        command_id: "cmd".into(),
        issued_at_ms: 1,
        rescue: true,
        signed,
        receipt: None,
    };
    h.stores
        .lifecycle
        .set_device_wipe(t.id, d.device_id, &wipe)
        .await
        .unwrap();
    assert!(
        h.stores
            .devices
            .set_device_status(
                t.id,
                d.device_id,
                &[DeviceStatus::Active],
                DeviceStatus::Revoked
            )
            .await
            .unwrap()
    );
    let got = h
        .stores
        .devices
        .get_device(t.id, d.device_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.wipe, Some(wipe.clone()));
    assert_eq!(got.status, DeviceStatus::Revoked);
    assert!(
        h.stores
            .devices
            .get_device(other.id, d.device_id)
            .await
            .unwrap()
            .is_none(),
        "another tenant does not see the device"
    );
    // Unknown device: a conflict, not a silent create.
    assert!(is_conflict(
        h.stores
            .lifecycle
            .set_device_wipe(t.id, DeviceId::random(), &wipe)
            .await
    ));

    // Quarantine: stored once, listed per tenant, decided once.
    let item = |at: i64| QuarantineItem {
        object_id: ObjectId::random(),
        version_id: VersionId::random(),
        kind: 2,
        client_id: Some(ObjectId::random()),
        parent_version: None,
        device_id: d.device_id,
        received_at_ms: at,
        status: QuarantineStatus::Pending,
        decided_at_ms: None,
        envelope: "AAAA".into(),
    };
    let (a, b) = (item(10), item(20));
    assert!(h.stores.lifecycle.put_quarantine(t.id, &a).await.unwrap());
    assert!(
        !h.stores.lifecycle.put_quarantine(t.id, &a).await.unwrap(),
        "stored once"
    );
    assert!(h.stores.lifecycle.put_quarantine(t.id, &b).await.unwrap());
    let listed = h.stores.lifecycle.list_quarantine(t.id).await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    assert!(
        h.stores
            .lifecycle
            .list_quarantine(other.id)
            .await
            .unwrap()
            .is_empty()
    );
    let decided = h
        .stores
        .lifecycle
        .decide_quarantine(t.id, a.version_id, QuarantineStatus::Accepted, 99)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.status, QuarantineStatus::Accepted);
    assert_eq!(decided.decided_at_ms, Some(99));
    assert!(
        h.stores
            .lifecycle
            .decide_quarantine(t.id, a.version_id, QuarantineStatus::Rejected, 100)
            .await
            .unwrap()
            .is_none(),
        "decided once"
    );
    assert!(
        h.stores
            .lifecycle
            .decide_quarantine(other.id, b.version_id, QuarantineStatus::Rejected, 100)
            .await
            .unwrap()
            .is_none(),
        "another tenant cannot decide"
    );
    let listed = h.stores.lifecycle.list_quarantine(t.id).await.unwrap();
    assert_eq!(listed[0].status, QuarantineStatus::Accepted);
    assert_eq!(listed[1].status, QuarantineStatus::Pending);
}

/// The suite: each listed `async fn(Harness)` becomes a test in `mod embedded` (on
/// `make_embedded`) and in `mod aws_moto` (on `make_aws`), timed. Adding a test to both
/// adapters is one line in the list below (the shape of matrix-sdk-base's
/// `statestore_integration_tests!`).
macro_rules! adapter_suite {
    ($($test:ident),* $(,)?) => {
        adapter_suite!(@adapter embedded, make_embedded, $($test),*);
        adapter_suite!(@adapter aws_moto, make_aws, $($test),*);
    };
    (@adapter $adapter:ident, $make:ident, $($test:ident),*) => {
        mod $adapter {
            use super::*;

            async fn timed<F: std::future::Future<Output = ()>>(name: &str, f: F) {
                let t = Instant::now();
                f.await;
                eprintln!("{}::{name} took {:?}", stringify!($adapter), t.elapsed());
            }

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let h = $make().await;
                    timed(stringify!($test), super::$test(h)).await
                }
            )*
        }
    };
}

adapter_suite!(
    tenants_and_keys,
    kms_context_binding,
    invites_and_ceremonies_are_consumed_once,
    users_credentials_and_care_teams,
    devices_sessions_and_nonces,
    objects_feed_and_uploads,
    audit_is_append_only_newest_first,
    audit_entries_filters_cursors_and_chains,
    blobs_multipart_resume_and_download,
    tenant_isolation,
    lifecycle_policy_wipe_and_quarantine,
    no_plaintext_at_rest,
);

/// AWS only: shredding disables the tenant's KMS key and schedules its deletion. (moto keeps
/// decrypting with a disabled key, so the "nothing decrypts afterwards" half is AWS's
/// guarantee, not testable here; the embedded adapter's shred is covered by its unit tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_moto_shred_schedules_kms_key_deletion() {
    let h = make_aws().await;
    let Driver::Aws { aws, .. } = &h.driver else {
        unreachable!()
    };
    let t = new_tenant(&h, "Leaving clinic").await;
    aws.shred_tenant(&t.key_ref).await.unwrap();
    let meta = aws
        .kms()
        .describe_key()
        .key_id(&t.key_ref)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state.unwrap().as_str(), "PendingDeletion");
    assert!(meta.deletion_date.is_some());
    let tags = aws
        .kms()
        .list_resource_tags()
        .key_id(&t.key_ref)
        .send()
        .await
        .unwrap();
    let tag = tags
        .tags()
        .iter()
        .find(|t| t.tag_key() == "ward:tenant")
        .unwrap();
    assert_eq!(tag.tag_value(), t.id.to_string());
}
