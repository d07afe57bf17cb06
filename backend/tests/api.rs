//! End-to-end API tests through the real Router and the embedded store: passkey ceremonies
//! with a software authenticator, replay, signed-request checks, roles, push/pull, key release,
//! bad input, and a plaintext scan of the data folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, b64, envelope, item, release_keys, unb64};
use serde_json::{Value, json};
use ward_backend::store::KeyPurpose;
use ward_proto::envelope::Envelope;
use ward_proto::sealed::SealRequestKey;
use ward_proto::{Kind, ObjectId, ObjectRef, TenantId, VersionId};

#[tokio::test]
async fn setup_code_enrolls_the_first_admin_with_a_passkey() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let r = app.call(&admin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["device_status"], "active");
    // The setup code is single use.
    let again = app
        .post(
            &app.t("/enroll/start"),
            json!({"invite_code": app.setup_code, "user_name": "x"}),
        )
        .await;
    // A used code starts no ceremony (and the finish below cannot be replayed either).
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{:?}", again.body);
    let r = app
        .post(&app.t("/enroll/finish"), admin.last_finish.clone())
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "replayed enrollment finish: {:?}",
        r.body
    );
    assert_eq!(r.body["error"]["code"], "ceremony_invalid");
}

#[tokio::test]
async fn login_ceremony_cannot_be_replayed_or_used_late() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let r = app.login(&mut admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let replay = app
        .post(&app.t("/login/finish"), admin.last_finish.clone())
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body["error"]["code"], "ceremony_invalid");
    // An expired ceremony is refused even on first use.
    let r = app
        .post(&app.t("/login/start"), json!({"user_id": admin.user_id}))
        .await;
    let options = serde_json::from_value(r.body["options"].clone()).unwrap();
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    let cred = admin
        .passkey
        .do_authentication(
            webauthn_rs::prelude::Url::parse(common::ORIGIN).unwrap(),
            options,
        )
        .unwrap();
    app.advance(6 * 60 * 1000);
    let late = app.post(&app.t("/login/finish"), json!({"ceremony_id": r.body["ceremony_id"], "credential": cred, "device_id": admin.device_id})).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invited_clinician_waits_for_approval_and_invites_are_single_use() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/invites"),
            Some(json!({"role": "clinician", "display_name": "Dr C"})),
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_string();
    let clin = app.enroll(&code, "Dr C").await;
    let me = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert_eq!(me.body["device_status"], "pending");
    // Unapproved: no keys, no data.
    let req = SealRequestKey::generate().unwrap();
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/keys/release"),
            Some(json!({"ephemeral_public": b64(&req.public_key())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.call(&clin, "GET", &app.t("/objects/pull"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The invite cannot enroll a second person.
    let r = app
        .post(
            &app.t("/enroll/start"),
            json!({"invite_code": code, "user_name": "Mallory"}),
        )
        .await;
    // Refused at the start: no ceremony is stored for a used invite.
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Approval opens the door.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/approve", clin.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(release_keys(&app, &clin).await.len(), 1);
}

#[tokio::test]
async fn signed_requests_refuse_tampering_replay_and_stolen_tokens() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let path = app.t("/me");
    // Replay of a captured request.
    let req = app.signed(&admin, "GET", &path, None);
    let (parts, _) = req.into_parts();
    let rebuild = |p: &axum::http::request::Parts| {
        let mut b = Request::builder()
            .method(p.method.clone())
            .uri(p.uri.clone());
        for (k, v) in &p.headers {
            b = b.header(k, v);
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(app.raw(rebuild(&parts)).await.status, StatusCode::OK);
    assert_eq!(
        app.raw(rebuild(&parts)).await.status,
        StatusCode::UNAUTHORIZED,
        "replayed nonce"
    );
    // Body tampering.
    let req = app.signed(
        &admin,
        "POST",
        &app.t("/invites"),
        Some(json!({"role": "clinician", "display_name": "A"})),
    );
    let (p, _) = req.into_parts();
    let mut b = Request::builder()
        .method(p.method.clone())
        .uri(p.uri.clone());
    for (k, v) in &p.headers {
        b = b.header(k, v);
    }
    let tampered = b
        .body(Body::from(
            json!({"role": "admin", "display_name": "A"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.raw(tampered).await.status, StatusCode::UNAUTHORIZED);
    // A stolen token with another key.
    let mut thief = common::Device {
        key: std::sync::Arc::new(ward_proto::signing::DeviceKey::generate().unwrap().0),
        ..clone_device(&admin)
    };
    assert_eq!(
        app.call(&thief, "GET", &path, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Missing signature headers.
    let bare = Request::get(&path)
        .header("authorization", format!("Bearer {}", admin.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.raw(bare).await.status, StatusCode::UNAUTHORIZED);
    // Wrong token for the session.
    thief = clone_device(&admin);
    thief.token = "not-the-token".into();
    assert_eq!(
        app.call(&thief, "GET", &path, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Stale timestamp.
    app.advance(1);
    let req = app.signed(&admin, "GET", &path, None);
    app.advance(6 * 60 * 1000);
    assert_eq!(app.raw(req).await.status, StatusCode::UNAUTHORIZED);
    // Expired session.
    app.advance(13 * 3600 * 1000);
    assert_eq!(
        app.call(&admin, "GET", &path, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

fn clone_device(d: &common::Device) -> common::Device {
    common::Device {
        passkey: webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true),
        key: d.key.clone(),
        device_id: d.device_id,
        user_id: d.user_id.clone(),
        session_id: d.session_id.clone(),
        token: d.token.clone(),
        last_finish: Value::Null,
    }
}

#[tokio::test]
async fn revocation_needs_step_up_and_kills_sessions_at_once() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr R", true).await;
    let revoke = app.t(&format!("/devices/{}/revoke", clin.device_id));
    app.advance(6 * 60 * 1000); // the login assertion is now older than 5 minutes
    let r = app.call(&admin, "POST", &revoke, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["error"]["code"], "step_up_required");
    assert_eq!(app.step_up(&mut admin).await.status, StatusCode::OK);
    let r = app.call(&admin, "POST", &revoke, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Its session is dead: every call it makes is answered with its signed wipe command, and
    // nothing else.
    let r = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "wipe_required");
    assert!(r.body["wipe"]["signature"].is_string());
    let r = app
        .call(&clin, "GET", &app.t("/objects/pull?after=0"), None)
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.body.get("objects").is_none());
    let mut clin = clin;
    let r = app.login(&mut clin).await;
    assert_eq!(
        r.status,
        StatusCode::GONE,
        "a revoked device cannot log in again: it is told to wipe"
    );
    assert_eq!(r.body["error"]["code"], "wipe_required");
}

#[tokio::test]
async fn wrong_roles_are_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr W", true).await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    for d in [&clin, &desk] {
        let r = app
            .call(
                d,
                "POST",
                &app.t("/invites"),
                Some(json!({"role": "admin", "display_name": "x"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app.call(d, "GET", &app.t("/devices"), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .call(
                d,
                "POST",
                &app.t(&format!("/devices/{}/approve", admin.device_id)),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn another_tenants_session_gets_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let other = ward_backend::tenants::create_tenant(&app.state.stores, "Other clinic", app.now())
        .await
        .unwrap();
    for path in ["/me", "/devices", "/objects/pull"] {
        let p = format!("/v1/tenants/{}{path}", other.id);
        let r = app.call(&admin, "GET", &p, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let req = SealRequestKey::generate().unwrap();
    let p = format!("/v1/tenants/{}/keys/release", other.id);
    let r = app
        .call(
            &admin,
            "POST",
            &p,
            Some(json!({"ephemeral_public": b64(&req.public_key())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn push_is_idempotent_detects_conflicts_and_binds_envelopes() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let keys = release_keys(&app, &admin).await;
    let client = ObjectId::random();
    let (o, env) = envelope(
        &app.tenant,
        &keys[0],
        client,
        Kind::Client,
        b"{\"display_name\":\"A\"}",
    );
    let push_path = app.t("/objects/push");
    let push =
        |items: Vec<Value>| app.call(&admin, "POST", &push_path, Some(json!({"objects": items})));
    let r = push(vec![item(&o, None, &env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    let r = push(vec![item(&o, None, &env)]).await;
    assert_eq!(r.body[0]["status"], "duplicate");
    // Same version, different bytes (e.g. a device that re-encrypted): refused, not replaced.
    let other = Envelope::seal(o, &keys[0], b"different").unwrap();
    let r = push(vec![item(&o, None, &other)]).await;
    assert_eq!(r.body[0]["status"], "conflict");
    // An envelope pushed as another object, kind, or tenant is rejected.
    let (note, note_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        b"note",
    );
    let as_other = ObjectRef {
        object: ObjectId::random(),
        ..note
    };
    let r = push(vec![item(&as_other, Some(client), &note_env)]).await;
    assert_eq!(r.body[0]["status"], "rejected");
    let as_kind = ObjectRef {
        kind: Kind::Consent,
        ..note
    };
    let r = push(vec![item(&as_kind, Some(client), &note_env)]).await;
    assert_eq!(r.body[0]["status"], "rejected");
    let r = push(vec![json!({"object_id": ObjectId::random(), "version_id": VersionId::random(), "kind": 2, "client_id": client, "envelope": b64(b"garbage")})]).await;
    assert_eq!(r.body[0]["status"], "rejected");
    // Photo bytes never come through the API.
    let (photo, photo_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::PhotoContent,
        b"jpeg",
    );
    let r = push(vec![item(&photo, Some(client), &photo_env)]).await;
    assert_eq!(r.body[0]["status"], "rejected");
    // Pull returns exactly the stored bytes, which open with the released key.
    let r = push(vec![item(&note, Some(client), &note_env)]).await;
    assert_eq!(r.body[0]["status"], "created");
    let r = app
        .call(&admin, "GET", &app.t("/objects/pull?after=0&limit=1"), None)
        .await;
    assert_eq!(r.body["objects"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["has_more"], true);
    let after = r.body["next_after"].as_u64().unwrap();
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/objects/pull?after={after}")),
            None,
        )
        .await;
    let pulled = &r.body["objects"][0];
    assert_eq!(unb64(pulled["envelope"].as_str().unwrap()), note_env);
    assert_eq!(Envelope::open(&note, &keys, &note_env).unwrap(), b"note");

    // One batch, results in request order: a note listed before its (new) client, the same
    // version twice, a conflict and a rejection among them. Client records are stored first,
    // so the feed never shows a note before its client.
    let c2 = ObjectId::random();
    let (n2, n2_env) = envelope(&app.tenant, &keys[0], ObjectId::random(), Kind::Note, b"n2");
    let (c2o, c2_env) = envelope(&app.tenant, &keys[0], c2, Kind::Client, b"c2");
    let r = push(vec![
        item(&n2, Some(c2), &n2_env),
        item(&c2o, None, &c2_env),
        item(&n2, Some(c2), &n2_env),
        item(&o, None, &other),
        item(&photo, Some(c2), &photo_env),
    ])
    .await;
    let statuses: Vec<&str> = (0..5)
        .map(|i| r.body[i]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["created", "created", "duplicate", "conflict", "rejected"],
        "{:?}",
        r.body
    );
    assert_eq!(r.body[0]["seq"], r.body[2]["seq"]);
    assert!(r.body[1]["seq"].as_u64().unwrap() < r.body[0]["seq"].as_u64().unwrap());

    // exclude_own=1: a device does not get its own versions back; the cursor still moves past
    // them in one request, and another device sees them all.
    let r = app
        .call(
            &admin,
            "GET",
            &app.t("/objects/pull?after=0&limit=2&exclude_own=1"),
            None,
        )
        .await;
    assert_eq!(
        r.body["objects"].as_array().unwrap().len(),
        0,
        "{:?}",
        r.body
    );
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_after"].as_u64().unwrap() >= 4);
    let other = app.staff(&admin, "admin", "Other admin", true).await;
    let r = app
        .call(
            &other,
            "GET",
            &app.t("/objects/pull?after=0&exclude_own=1"),
            None,
        )
        .await;
    assert_eq!(r.body["objects"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn care_teams_and_front_desk_limit_what_is_pulled() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let b = app.staff(&admin, "clinician", "Dr B", true).await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let keys = release_keys(&app, &a).await;
    let client = ObjectId::random();
    let (c, c_env) = envelope(&app.tenant, &keys[0], client, Kind::Client, b"client");
    let (n, n_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        b"note",
    );
    let r = app
        .call(
            &a,
            "POST",
            &app.t("/objects/push"),
            Some(json!({"objects": [item(&c, None, &c_env), item(&n, Some(client), &n_env)]})),
        )
        .await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    assert_eq!(r.body[1]["status"], "created", "{:?}", r.body);
    let kinds = |r: &common::Resp| -> Vec<u64> {
        r.body["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["kind"].as_u64().unwrap())
            .collect()
    };
    let pull = app.t("/objects/pull");
    assert_eq!(
        kinds(&app.call(&a, "GET", &pull, None).await),
        vec![1, 2],
        "creator is on the care team"
    );
    assert!(
        kinds(&app.call(&b, "GET", &pull, None).await).is_empty(),
        "not on the care team"
    );
    assert_eq!(
        kinds(&app.call(&desk, "GET", &pull, None).await),
        vec![1],
        "front desk: identity only"
    );
    assert_eq!(
        kinds(&app.call(&admin, "GET", &pull, None).await),
        vec![1, 2]
    );
    // B can neither add notes to, nor rewrite, a client outside their care team.
    let (n2, n2_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        b"sneaky",
    );
    let (c2, c2_env) = envelope(&app.tenant, &keys[0], client, Kind::Client, b"takeover");
    let r = app
        .call(
            &b,
            "POST",
            &app.t("/objects/push"),
            Some(json!({"objects": [item(&n2, Some(client), &n2_env), item(&c2, None, &c2_env)]})),
        )
        .await;
    assert_eq!(r.body[0]["status"], "rejected");
    assert_eq!(r.body[1]["status"], "rejected");
    assert!(kinds(&app.call(&b, "GET", &pull, None).await).is_empty());
}

#[tokio::test]
async fn malformed_requests_get_json_4xx() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let cases: Vec<(Request<Body>, StatusCode)> = vec![
        (
            Request::post(app.t("/enroll/start"))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::post(app.t("/enroll/start"))
                .header("content-type", "application/json")
                .body(Body::from("{\"invite_code\": 5}"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::post(app.t("/login/start"))
                .header("content-type", "application/json")
                .body(Body::from("{\"user_id\": \"nope\"}"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::post("/v1/tenants/not-a-uuid/enroll/start")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            Request::post(app.t("/enroll/finish"))
                .header("content-type", "application/json")
                .body(Body::from(vec![b'a'; 6 * 1024 * 1024]))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Request::get("/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            Request::delete(app.t("/enroll/start"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (req, status) in cases {
        let uri = req.uri().clone();
        let r = app.raw(req).await;
        assert_eq!(r.status, status, "{uri}: {:?}", r.body);
    }
    // Authenticated, malformed bodies and queries.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/objects/push"),
            Some(json!({"objects": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(&admin, "GET", &app.t("/objects/pull?after=-1"), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/keys/release"),
            Some(json!({"ephemeral_public": "AAAA"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/keys/release"),
            Some(json!({"ephemeral_public": b64(&[0u8; 32])})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "low-order X25519 key");
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/devices/not-a-device/approve"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_data_folder_holds_no_plaintext() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let keys = release_keys(&app, &admin).await;
    let client = ObjectId::random();
    let (c, c_env) = envelope(
        &app.tenant,
        &keys[0],
        client,
        Kind::Client,
        b"MARKER-CLIENT-Zebedee Smith",
    );
    let (n, n_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        b"MARKER-NOTE psoriasis flare",
    );
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/objects/push"),
            Some(json!({"objects": [item(&c, None, &c_env), item(&n, Some(client), &n_env)]})),
        )
        .await;
    assert_eq!(r.body[1]["status"], "created");
    let tenant_key = keys[0].key.expose_secret().to_vec();
    let mut files = Vec::new();
    let mut stack = vec![app.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    assert!(
        files
            .iter()
            .any(|p| p.ends_with("ward.db") || p.ends_with("ward.db-wal"))
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for m in [
            &b"MARKER"[..],
            b"Zebedee",
            b"psoriasis",
            &tenant_key,
            app.setup_code.as_bytes(),
            admin.token.as_bytes(),
        ] {
            assert!(
                !bytes.windows(m.len()).any(|w| w == m),
                "{} holds plaintext/secret",
                f.display()
            );
        }
    }
}

#[tokio::test]
async fn well_known_files_are_served() {
    let app = TestApp::new().await;
    let r = app
        .raw(
            Request::get("/.well-known/apple-app-site-association")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["webcredentials"]["apps"].is_array());
    let r = app
        .raw(
            Request::get("/.well-known/assetlinks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Sends a request to a URL the API handed out (embedded mode: it points back at this server).
async fn to_url(app: &TestApp, method: &str, url: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let path = url.strip_prefix(common::ORIGIN).expect("local URL");
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

#[tokio::test]
async fn photo_upload_resumes_without_resending_parts_and_downloads_by_url() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr P", true).await;
    let other = app.staff(&admin, "clinician", "Dr Q", true).await;
    let keys = release_keys(&app, &clin).await;
    let client = ObjectId::random();
    let (c, c_env) = envelope(&app.tenant, &keys[0], client, Kind::Client, b"client");
    app.call(
        &clin,
        "POST",
        &app.t("/objects/push"),
        Some(json!({"objects": [item(&c, None, &c_env)]})),
    )
    .await;
    // A ~20 MB photo envelope: three 8 MiB parts.
    let photo: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (p, p_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::PhotoContent,
        &photo,
    );
    let start = json!({"object_id": p.object, "version_id": p.version, "client_id": client, "size": p_env.len()});
    let plan = app
        .call(&clin, "POST", &app.t("/uploads/start"), Some(start.clone()))
        .await;
    assert_eq!(plan.status, StatusCode::OK, "{:?}", plan.body);
    let parts = plan.body["parts"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 3);
    // Send parts 1 and 2, then the connection "drops".
    for part in &parts[..2] {
        let (off, len) = (
            part["offset"].as_u64().unwrap() as usize,
            part["length"].as_u64().unwrap() as usize,
        );
        let (s, _) = to_url(
            &app,
            "PUT",
            part["url"].as_str().unwrap(),
            p_env[off..off + len].to_vec(),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    // Completing early names the missing part.
    let done = json!({"object_id": p.object, "version_id": p.version});
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/uploads/complete"),
            Some(done.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Resume: only part 3 is asked for.
    let plan = app
        .call(&clin, "POST", &app.t("/uploads/start"), Some(start.clone()))
        .await;
    assert_eq!(plan.body["done"], json!([1, 2]));
    let rest = plan.body["parts"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    let (off, len) = (
        rest[0]["offset"].as_u64().unwrap() as usize,
        rest[0]["length"].as_u64().unwrap() as usize,
    );
    // A URL cannot be reused for another part or tampered with.
    let tampered = rest[0]["url"].as_str().unwrap().replace("part=3", "part=1");
    assert_eq!(
        to_url(&app, "PUT", &tampered, vec![0; 10]).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = to_url(
        &app,
        "PUT",
        rest[0]["url"].as_str().unwrap(),
        p_env[off..off + len].to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/uploads/complete"),
            Some(done.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // It is in the feed (without bytes), and downloadable by URL to the care team only.
    let pulled = app.call(&clin, "GET", &app.t("/objects/pull"), None).await;
    let photo_row = pulled.body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == 4)
        .unwrap()
        .clone();
    assert!(photo_row["envelope"].is_null());
    let r = app
        .call(&other, "POST", &app.t("/downloads"), Some(done.clone()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not on the care team");
    let r = app
        .call(&clin, "POST", &app.t("/downloads"), Some(done.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (s, bytes) = to_url(&app, "GET", r.body["url"].as_str().unwrap(), Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, p_env);
    assert_eq!(Envelope::open(&p, &keys, &bytes).unwrap(), photo);
    // Others on the care team cannot start uploads for clients they do not treat.
    let r = app.call(&other, "POST", &app.t("/uploads/start"), Some(json!({"object_id": ObjectId::random(), "version_id": VersionId::random(), "client_id": client, "size": 10}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An expired download URL is refused.
    let r = app
        .call(&clin, "POST", &app.t("/downloads"), Some(done))
        .await;
    let url = r.body["url"].as_str().unwrap().to_string();
    let expired = {
        let (head, q) = url.split_once("expires=").unwrap();
        let (_, tail) = q.split_once('&').unwrap();
        format!("{head}expires=1&{tail}")
    };
    assert_eq!(
        to_url(&app, "GET", &expired, Vec::new()).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn openapi_document_describes_every_route_and_resolves_its_refs() {
    let app = TestApp::new().await;
    let r = app
        .raw(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = ward_backend::api::routes();
    assert!(routes.len() >= 20);
    for (d, _) in &routes {
        let op = &paths[&d.path.replace("{*", "{")][d.method];
        assert!(
            op["summary"].is_string(),
            "{} {} undocumented",
            d.method,
            d.path
        );
    }
    let push = &paths[&"/v1/tenants/{tenant}/objects/push".to_string()]["post"];
    assert!(push["requestBody"]["content"]["application/json"]["schema"].is_object());
    // Every $ref points at a component that exists.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_string());
                    } else {
                        refs(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    assert!(doc["components"]["schemas"]["PushItem"]["properties"]["envelope"].is_object());
}

#[tokio::test]
async fn ceremony_endpoints_are_rate_limited() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(
            app.post(&app.t("/login/start"), json!({"user_id": admin.user_id}))
                .await
                .status,
        );
    }
    // A person's own budget (per person, not per clinic: see tests/hardening.rs).
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    // The window passes.
    app.advance(61_000);
    assert_eq!(
        app.post(&app.t("/login/start"), json!({"user_id": admin.user_id}))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_releases_sync_and_device_actions_are_audited_on_the_server() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr Au", true).await;
    let keys = release_keys(&app, &clin).await;
    let client = ObjectId::random();
    let (c, c_env) = envelope(&app.tenant, &keys[0], client, Kind::Client, b"c");
    app.call(
        &clin,
        "POST",
        &app.t("/objects/push"),
        Some(json!({"objects": [item(&c, None, &c_env)]})),
    )
    .await;
    app.call(&clin, "GET", &app.t("/objects/pull"), None).await;
    app.step_up(&mut admin).await;
    app.call(
        &admin,
        "POST",
        &app.t(&format!("/devices/{}/revoke", clin.device_id)),
        None,
    )
    .await;
    let tenant: TenantId = app.tenant.parse().unwrap();
    let log = app.state.stores.audit.recent(tenant, 100).await.unwrap();
    let by = |action: &str| {
        log.iter()
            .filter(|r| r.action == action)
            .collect::<Vec<_>>()
    };
    let release = by("tenant_key.release");
    assert_eq!(release.len(), 1);
    assert_eq!(release[0].actor, clin.user_id);
    assert_eq!(release[0].device_id, Some(clin.device_id));
    for a in [
        "object.push",
        "object.pull",
        "device.approve",
        "device.revoke",
        "user.step_up",
        "user.enroll",
    ] {
        assert!(
            !by(a).is_empty(),
            "no {a} event in {:?}",
            log.iter().map(|r| &r.action).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn deleting_a_tenants_kek_shreds_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = ward_backend::store::embedded::Embedded::open(dir.path()).unwrap();
    use ward_backend::store::KeyVault;
    let (a, b) = (TenantId::random(), TenantId::random());
    let ka = db.create_tenant_kek(a).await.unwrap();
    let kb = db.create_tenant_kek(b).await.unwrap();
    let (plain, wrapped) = db
        .generate_tenant_key(a, &ka, KeyPurpose::WipeSeed)
        .await
        .unwrap();
    assert_eq!(
        *db.unwrap_tenant_key(a, &ka, KeyPurpose::WipeSeed, &wrapped)
            .await
            .unwrap(),
        *plain
    );
    assert!(
        db.unwrap_tenant_key(b, &kb, KeyPurpose::WipeSeed, &wrapped)
            .await
            .is_err(),
        "another tenant's KEK"
    );
    db.shred_tenant(a).await.unwrap();
    assert!(
        db.unwrap_tenant_key(a, &ka, KeyPurpose::WipeSeed, &wrapped)
            .await
            .is_err(),
        "shredded"
    );
    let (_, wb) = db
        .generate_tenant_key(b, &kb, KeyPurpose::WipeSeed)
        .await
        .unwrap();
    assert!(
        db.unwrap_tenant_key(b, &kb, KeyPurpose::WipeSeed, &wb)
            .await
            .is_ok(),
        "other tenants unaffected"
    );
}
