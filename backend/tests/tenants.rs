//! Clinics side by side and offboarding, through the operator's command line (`ward-server
//! tenant create|list|offboard`, the built binary on the embedded store): two clinics with
//! their own keys; offboarding one exports it to an archive that opens, then shreds its key so
//! that no byte of it is left in the database file, its WAL or its free pages; the other clinic
//! is untouched. The AWS adapter's shred (KMS key pending deletion) is in `adapters.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::path::Path;
use std::process::{Command, Output};

use ward_backend::store::Stores;
use ward_proto::TenantId;

fn ward_server(data: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward-server"));
    cmd.args(args).current_dir(data.parent().unwrap());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("WARD_DATA_DIR", data);
    cmd.output().unwrap()
}

fn json_out(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every `kind` record body of `tenant` in the database (read with SQLite directly).
fn record_bodies(data: &Path, tenant: &str, kind: &str) -> Vec<Vec<u8>> {
    let c = rusqlite::Connection::open(data.join("ward.db")).unwrap();
    let mut s = c
        .prepare("SELECT body FROM records WHERE tenant = ?1 AND kind = ?2")
        .unwrap();
    s.query_map([tenant, kind], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Whether any file under `dir` contains `needle`.
fn found_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(found_in(&p, needle));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn clinics_are_created_listed_and_offboarded_by_the_operator() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let north = json_out(&ward_server(
        &data,
        &["tenant", "create", "--name", "North Clinic"],
    ));
    let south = json_out(&ward_server(
        &data,
        &["tenant", "create", "--name", "South Clinic"],
    ));
    let (n, s) = (
        north["tenant"].as_str().unwrap().to_string(),
        south["tenant"].as_str().unwrap().to_string(),
    );
    assert_ne!(n, s);
    assert!(south["setup_code"].as_str().unwrap().len() >= 20);
    assert!(
        south["console"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/console#tenant={s}"))
    );
    let list = json_out(&ward_server(&data, &["tenant", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 2);

    // The key material that must be gone afterwards: South's sealed KEK and wrapped keys.
    let south_kek = record_bodies(&data, &s, "kek");
    let south_keys = record_bodies(&data, &s, "tenant_key");
    assert_eq!(south_kek.len(), 1);
    assert!(!south_keys.is_empty());
    let north_kek = record_bodies(&data, &n, "kek");
    assert!(
        !found_in(&data, &south_kek[0]).is_empty(),
        "the scan can find it before"
    );

    // Without --yes nothing happens.
    let archive = root.path().join("south.ward");
    let key = root.path().join("south.key");
    let (a, k) = (archive.to_str().unwrap(), key.to_str().unwrap());
    let refused = ward_server(
        &data,
        &["tenant", "offboard", "--tenant", &s, "--out", a, "--key", k],
    );
    assert!(!refused.status.success());
    assert!(!archive.exists());
    assert_eq!(record_bodies(&data, &s, "kek").len(), 1);

    let done = json_out(&ward_server(
        &data,
        &[
            "tenant", "offboard", "--tenant", &s, "--out", a, "--key", k, "--yes",
        ],
    ));
    assert_eq!(done["shredded"], true);
    assert!(
        std::fs::metadata(&archive).unwrap().len() > 0,
        "the clinic keeps its archive"
    );

    // No byte of South's key material in any file of the data folder (database, WAL, SHM).
    for secret in south_kek.iter().chain(&south_keys) {
        assert_eq!(
            found_in(&data, secret),
            Vec::<String>::new(),
            "key bytes left behind"
        );
    }
    assert_eq!(
        record_bodies(&data, &n, "kek"),
        north_kek,
        "North keeps its key"
    );
    // A retry (the operator ran it twice) is fine and writes no second archive.
    let again = json_out(&ward_server(
        &data,
        &[
            "tenant",
            "offboard",
            "--tenant",
            &s,
            "--out",
            "/nonexistent/x",
            "--key",
            k,
            "--yes",
        ],
    ));
    assert_eq!(again["shredded"], true);

    // In the store: South is offboarded and none of its keys unwraps; North works.
    let (stores, _) = Stores::embedded(&data, "http://localhost:8080").unwrap();
    let sid: TenantId = s.parse().unwrap();
    let st = stores.tenants.get_tenant(sid).await.unwrap().unwrap();
    assert!(st.offboarded_at_ms.is_some());
    let purpose = ward_backend::store::KeyPurpose::TenantKey { epoch: 1 };
    let wrapped = south_keys[0].clone();
    let parsed: ward_backend::model::WrappedTenantKey = serde_json::from_slice(&wrapped).unwrap();
    assert!(
        stores
            .keys
            .unwrap_tenant_key(sid, &st.key_ref, purpose, &parsed.wrapped)
            .await
            .is_err()
    );
    let nid: TenantId = n.parse().unwrap();
    let nt = stores.tenants.get_tenant(nid).await.unwrap().unwrap();
    let nk = stores.tenants.tenant_keys(nid).await.unwrap();
    assert!(
        stores
            .keys
            .unwrap_tenant_key(nid, &nt.key_ref, nk[0].purpose(), &nk[0].wrapped)
            .await
            .is_ok()
    );
    // And the archive still opens with its key (what the clinic takes away).
    let key = ward_backend::backup::cli::load_key(&key, false).unwrap();
    let f = std::fs::File::open(&archive).unwrap();
    let (_, manifest) =
        ward_backend::backup::check_archive(std::io::BufReader::new(f), &key).unwrap();
    assert_eq!(manifest.tenant.to_string(), s);
}

#[tokio::test]
async fn an_offboarded_clinic_is_refused_everywhere() {
    let app = common::TestApp::new().await;
    let admin = app.admin().await;
    let other = app.other_clinic("Leaving").await;
    let mut leaving_admin = other.admin().await;
    let t = other
        .state
        .stores
        .tenants
        .get_tenant(other.tenant.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    ward_backend::tenants::shred_clinic(&other.state.stores, &t, other.now())
        .await
        .unwrap();
    let r = other
        .call(&leaving_admin, "GET", &other.t("/me"), None)
        .await;
    assert_eq!(r.status, axum::http::StatusCode::UNAUTHORIZED);
    let r = other.login(&mut leaving_admin).await;
    assert_eq!(r.status, axum::http::StatusCode::UNAUTHORIZED);
    let r = other
        .post(
            &other.t("/enroll/start"),
            serde_json::json!({"invite_code": "x", "user_name": "x"}),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::NOT_FOUND);
    // The clinic next door is untouched.
    let r = app.call(&admin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    // `GET /` names no clinic: neither's name nor id.
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let resp = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get("/")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let page = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(page.contains("Ward is running"));
    for secret in [
        app.tenant.as_str(),
        other.tenant.as_str(),
        "My clinic",
        "Leaving",
    ] {
        assert!(!page.contains(secret), "GET / names {secret:?}");
    }
}

mod common;

/// On AWS (moto): offboarding through the same rule disables the clinic's KMS key and
/// schedules its deletion, marks the clinic offboarded, and a retry is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboarding_on_aws_schedules_the_kms_key_deletion() {
    let moto = tokio::task::spawn_blocking(ward_testkit::shared)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("moto server could not start: {e:#}"));
    let id = uuid::Uuid::new_v4().simple().to_string();
    let aws = ward_backend::store::aws::Aws::connect(ward_backend::store::aws::AwsSettings {
        replica_bucket: None,
        table: format!("ward-test-{id}"),
        bucket: format!("ward-test-{id}"),
        endpoint: Some(moto.endpoint.clone()),
        region: None,
    })
    .await
    .unwrap();
    aws.create_table_and_bucket().await.unwrap();
    let blobs = ward_backend::store::aws::S3Blobs::new(aws.clone());
    let stores = ward_backend::store::aws::stores(aws.clone(), blobs);
    let stay = ward_backend::tenants::create_clinic(&stores, "Staying", 1)
        .await
        .unwrap();
    let leave = ward_backend::tenants::create_clinic(&stores, "Leaving", 1)
        .await
        .unwrap();
    ward_backend::tenants::shred_clinic(&stores, &leave.tenant, 2)
        .await
        .unwrap();
    let t = stores
        .tenants
        .get_tenant(leave.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.offboarded_at_ms, Some(2));
    let state = |key: String| {
        let aws = aws.clone();
        async move {
            aws.kms()
                .describe_key()
                .key_id(key)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .key_state
                .unwrap()
                .as_str()
                .to_string()
        }
    };
    assert_eq!(state(leave.tenant.key_ref.clone()).await, "PendingDeletion");
    assert_eq!(state(stay.tenant.key_ref.clone()).await, "Enabled");
    // A retry (the operator ran it twice) succeeds and keeps the first time.
    ward_backend::tenants::shred_clinic(&stores, &t, 3)
        .await
        .unwrap();
    let t = stores
        .tenants
        .get_tenant(leave.tenant.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.offboarded_at_ms, Some(2));
}
