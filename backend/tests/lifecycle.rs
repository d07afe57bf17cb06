//! The lifecycle endpoints over HTTP: who may call what, and every malformed or hostile input
//! answered with a 4xx JSON error (never a 5xx). The happy path of revoke → rescue → wipe →
//! receipt → accept runs end to end with real phones in tests/e2e/tests/lifecycle.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use ward_proto::signing::DeviceKey;
use ward_proto::wipe::{SignedReceipt, WipeReceipt};

fn policy(idle: u32) -> Value {
    json!({"idle_lock_seconds": idle, "offline_lease_hours": 168, "lease_warning_hours": 24,
           "photo_consent_required": true, "exif_keep": ["Orientation"], "rescue_on_wipe": true})
}

fn receipt(app: &TestApp, key: &DeviceKey, device: &str, command: &str) -> Value {
    let r = WipeReceipt {
        version: 1,
        tenant: app.tenant.parse().unwrap(),
        device: device.parse().unwrap(),
        command_id: command.into(),
        wiped_at_ms: app.now(),
        rescued_versions: 0,
        unrescued_photos: 0,
    };
    serde_json::to_value(SignedReceipt::sign(key, &r).unwrap()).unwrap()
}

#[tokio::test]
async fn policy_roles_step_up_and_validation() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr C", true).await;
    let path = app.t("/policy");
    // Every active member reads it (the phones apply it).
    let r = app.call(&clin, "GET", &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["offline_lease_hours"], 336);
    // Only an admin changes it, and only after a fresh passkey assertion.
    let r = app.call(&clin, "PUT", &path, Some(policy(120))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.advance(6 * 60 * 1000);
    let r = app.call(&admin, "PUT", &path, Some(policy(120))).await;
    assert_eq!(r.body["error"]["code"], "step_up_required");
    assert_eq!(app.step_up(&mut admin).await.status, StatusCode::OK);
    // Out of range, unknown EXIF tag, unknown field, not JSON: 400 with a message.
    for (bad, code) in [
        (policy(5), "invalid_policy"),
        (
            json!({"exif_keep": ["GPSLatitude"], "offline_lease_hours": 168, "lease_warning_hours": 24}),
            "invalid_policy",
        ),
        (
            json!({"idle_lock_seconds": 60, "password": "x"}),
            "invalid_json",
        ),
        (json!("lax"), "invalid_json"),
    ] {
        let r = app.call(&admin, "PUT", &path, Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{bad}");
        assert!(r.body["error"]["message"].as_str().unwrap().len() > 5);
    }
    let r = app.call(&admin, "PUT", &path, Some(policy(120))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&clin, "GET", &path, None).await;
    assert_eq!(r.body["idle_lock_seconds"], 120);
}

#[tokio::test]
async fn quarantine_and_lockdown_are_admin_only() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let front = app.staff(&admin, "front_desk", "F", true).await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    for d in [&front, &clin] {
        let r = app.call(d, "GET", &app.t("/quarantine"), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app.call(d, "POST", &app.t("/lockdown"), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = app.call(&admin, "GET", &app.t("/quarantine"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([]));
    // Deciding on nothing: a malformed id names nothing (404), an unknown one conflicts.
    let r = app
        .call(&admin, "POST", &app.t("/quarantine/not-an-id/accept"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let unknown = ward_proto::VersionId::random();
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/quarantine/{unknown}/reject")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "already_decided");
    // Lockdown needs a step-up.
    app.advance(6 * 60 * 1000);
    let r = app.call(&admin, "POST", &app.t("/lockdown"), None).await;
    assert_eq!(r.body["error"]["code"], "step_up_required");
}

#[tokio::test]
async fn wipe_endpoints_accept_only_the_revoked_device_and_a_genuine_receipt() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let other = app.staff(&admin, "clinician", "O", true).await;
    // An active device has no wipe to report.
    let r = app
        .call(&other, "POST", &app.t("/wipe/receipt"), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "no_wipe_pending");
    let r = app
        .call(
            &other,
            "POST",
            &app.t("/wipe/quarantine"),
            Some(json!({"objects": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    app.step_up(&mut admin).await;
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/revoke", clin.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let command = r.body["wipe_command_id"].as_str().unwrap().to_string();
    let dev = clin.device_id.to_string();

    // Rescue upload: junk is refused item by item, never a 5xx.
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/wipe/quarantine"),
            Some(
                json!({"objects": [{"object_id": ward_proto::ObjectId::random(),
                "version_id": ward_proto::VersionId::random(), "kind": 2,
                "client_id": ward_proto::ObjectId::random(), "envelope": "bm90IGFuIGVudmVsb3Bl"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body[0]["status"], "rejected");
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/wipe/quarantine"),
            Some(json!({"objects": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Receipts: malformed, signed by another key, for another command — all refused.
    let receipt_path = app.t("/wipe/receipt");
    let r = app
        .call(&clin, "POST", &receipt_path, Some(json!({"receipt": 1})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let (stranger, _) = DeviceKey::generate().unwrap();
    let r = app
        .call(
            &clin,
            "POST",
            &receipt_path,
            Some(receipt(&app, &stranger, &dev, &command)),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_receipt");
    let r = app
        .call(
            &clin,
            "POST",
            &receipt_path,
            Some(receipt(&app, &clin.key, &dev, "other")),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "bad_receipt");
    // Another device cannot report this device's wipe (its own receipt names itself).
    let r = app
        .call(
            &other,
            "POST",
            &receipt_path,
            Some(receipt(&app, &other.key, &dev, &command)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // The genuine receipt: recorded, device wiped.
    let r = app
        .call(
            &clin,
            "POST",
            &receipt_path,
            Some(receipt(&app, &clin.key, &dev, &command)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["receipt"]["wiped_at_ms"].as_i64().is_some());
    assert_eq!(app.device_status(&admin, &dev).await, "wiped");
    // A wiped device is just refused from now on (no more wipe command, no second receipt).
    let r = app
        .call(
            &clin,
            "POST",
            &receipt_path,
            Some(receipt(&app, &clin.key, &dev, &command)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A wiped phone delivers its receipt without a session (so no signing secret has to outlive
/// the shred): it proves itself by the device key's signature. Forged, foreign, unknown and
/// repeated receipts are refused alike.
#[tokio::test]
async fn a_receipt_proves_itself_without_a_session() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let other = app.staff(&admin, "clinician", "O", true).await;
    let revoked = app.revoke(&mut admin, &clin).await;
    let command = revoked["wipe_command_id"].as_str().unwrap().to_string();
    let dev = clin.device_id.to_string();
    let path = app.t("/wipe/receipts");
    let (stranger, _) = DeviceKey::generate().unwrap();
    for (why, body) in [
        (
            "signed by another key",
            receipt(&app, &stranger, &dev, &command),
        ),
        ("another command", receipt(&app, &clin.key, &dev, "other")),
        (
            "an active device",
            receipt(&app, &other.key, &other.device_id.to_string(), &command),
        ),
        (
            "an unknown device",
            receipt(
                &app,
                &clin.key,
                &ward_proto::DeviceId::random().to_string(),
                &command,
            ),
        ),
        ("not a receipt", json!({"receipt": "{}", "signature": "AA"})),
    ] {
        let r = app.post(&path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "bad_receipt", "{why}");
    }
    let genuine = receipt(&app, &clin.key, &dev, &command);
    let r = app.post(&path, genuine.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["receipt"]["wiped_at_ms"].as_i64().is_some());
    let r = app.post(&path, genuine).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a second time: {:?}",
        r.body
    );
    assert_eq!(app.device_status(&admin, &dev).await, "wiped");
}
