//! The client-key wire (ADR 0015, protocol §5.4) on the embedded store: first-key
//! registration (retries, a second first key, wrong generations, malformed keys, clients the
//! caller may not read), release by role and care team, the client-wrapping key never leaving,
//! and no client key in clear at rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::http::StatusCode;
use common::{TestApp, b64, envelope, item, push, release_keys};
use serde_json::{Value, json};
use ward_proto::client_keys::{client_release_context, decode_client_key_payload};
use ward_proto::sealed::{SealRequestKey, SealedKey};
use ward_proto::{ClientKey, Kind, ObjectId};

/// A release with a second one-time key for the client keys: (epochs, client keys).
async fn release_with_clients(
    app: &TestApp,
    d: &common::Device,
    ensure: &[ObjectId],
) -> (Vec<u32>, Vec<ClientKey>) {
    let (req, client_req) = (
        SealRequestKey::generate().unwrap(),
        SealRequestKey::generate().unwrap(),
    );
    let r = app
        .call(
            d,
            "POST",
            &app.t("/keys/release"),
            Some(json!({
                "ephemeral_public": b64(&req.public_key()),
                "client_ephemeral_public": b64(&client_req.public_key()),
                "ensure": ensure,
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let epochs: Vec<u32> = serde_json::from_value(r.body["epochs"].clone()).unwrap();
    let sealed: SealedKey = serde_json::from_value(r.body["client_keys"].clone()).unwrap();
    let tenant = app.tenant.parse().unwrap();
    let payload = client_req
        .open(&sealed, &client_release_context(tenant))
        .unwrap();
    (epochs, decode_client_key_payload(&payload).unwrap())
}

fn register_body(client: ObjectId, generation: u32, key: &[u8]) -> Value {
    json!({"keys": [{"client_id": client, "generation": generation, "key": b64(key)}]})
}

#[tokio::test]
async fn client_keys_follow_registration_role_and_care_team() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let b = app.staff(&admin, "clinician", "Dr B", true).await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let register = app.t("/keys/clients");

    // A made a first key offline for a client the server does not know yet.
    let x = ObjectId::random();
    let key = [7u8; 32];
    let r = app
        .call(&a, "POST", &register, Some(register_body(x, 1, &key)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["registered"], json!([x]));
    // A retry of the same key is registered again; another first key is refused.
    let r = app
        .call(&a, "POST", &register, Some(register_body(x, 1, &key)))
        .await;
    assert_eq!(r.body["registered"], json!([x]), "{:?}", r.body);
    let r = app
        .call(&a, "POST", &register, Some(register_body(x, 1, &[8u8; 32])))
        .await;
    assert_eq!(r.body["refused"][0]["client_id"], json!(x), "{:?}", r.body);
    // Only first keys are registered; malformed keys and oversized requests are 400.
    let y = ObjectId::random();
    let r = app
        .call(&a, "POST", &register, Some(register_body(y, 2, &key)))
        .await;
    assert_eq!(r.body["refused"][0]["client_id"], json!(y), "{:?}", r.body);
    let r = app
        .call(&a, "POST", &register, Some(register_body(y, 1, &[1u8; 31])))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_base64");
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"client_id": ObjectId::random(), "generation": 1, "key": b64(&key)}))
        .collect();
    let r = app
        .call(&a, "POST", &register, Some(json!({ "keys": many })))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "too_many_objects");

    // A pushes the client (A joins its team); B may not register a key for it now.
    let tenant_keys = release_keys(&app, &a).await;
    let (c, c_env) = envelope(&app.tenant, &tenant_keys[0], x, Kind::Client, b"client");
    let r = push(&app, &a, vec![item(&c, None, &c_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    let z = ObjectId::random();
    let (cz, cz_env) = envelope(&app.tenant, &tenant_keys[0], z, Kind::Client, b"client");
    let r = push(&app, &a, vec![item(&cz, None, &cz_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    let r = app
        .call(&b, "POST", &register, Some(register_body(z, 1, &key)))
        .await;
    assert_eq!(r.body["refused"][0]["client_id"], json!(z), "{:?}", r.body);

    // A's release: the registered key of x, and a first key made for z (its caseload); the
    // client-wrapping key (epoch 0) is never among the tenant epochs.
    let (epochs, mine) = release_with_clients(&app, &a, &[]).await;
    assert!(!epochs.contains(&0), "{epochs:?}");
    let xk = mine.iter().find(|k| k.client == x).unwrap();
    assert_eq!((xk.generation, xk.key.expose_secret()), (1, &key));
    assert!(mine.iter().any(|k| k.client == z && k.generation == 1));
    let listed = app.call(&a, "GET", &app.t("/me/clients"), None).await;
    let access = listed.body["clients"].as_array().unwrap();
    assert!(access.iter().all(|c| c["key"] == 1), "{:?}", listed.body);

    // B (off the team) and front desk get no client key; the admin gets every client's.
    let (_, theirs) = release_with_clients(&app, &b, &[x, z]).await;
    assert!(theirs.is_empty(), "B got keys of clients not theirs");
    let (_, desks) = release_with_clients(&app, &desk, &[x]).await;
    assert!(desks.is_empty(), "front desk got client keys");
    let (_, all) = release_with_clients(&app, &admin, &[]).await;
    assert_eq!(all.len(), 2);

    // The same one-time key for both boxes is refused.
    let one = SealRequestKey::generate().unwrap();
    let r = app
        .call(
            &a,
            "POST",
            &app.t("/keys/release"),
            Some(json!({
                "ephemeral_public": b64(&one.public_key()),
                "client_ephemeral_public": b64(&one.public_key()),
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_public_key");

    // No client key is stored in clear anywhere in the data folder.
    let mut stack = vec![app.dir.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            scanned += 1;
            for k in mine.iter().chain(&all) {
                let hits = ward_testkit::scan_for_markers(&bytes, &[k.key.expose_secret()]);
                assert!(hits.is_empty(), "a client key in clear in {}", p.display());
            }
        }
    }
    assert!(scanned > 0);
}
