//! Issue 13's hardening of the wire and the ceremonies, each written as the failing test first:
//! no lock-out by strangers (rate limits per person, per address, for strangers), names, sessions,
//! replay at the window's edge, step-up, and what an independent client built from the docs
//! found (cursor range, parameters, unknown fields, content type, one inline-envelope limit).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::http::StatusCode;
use common::{TestApp, push};

async fn login_start_raw(app: &TestApp, user: &str) -> axum::http::Response<axum::body::Body> {
    use tower::ServiceExt;
    let req = axum::http::Request::post(app.t("/login/start"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            serde_json::json!({ "user_id": user }).to_string(),
        ))
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap()
}

/// 40 `login/start` calls with random user ids (a stranger) no longer lock the clinic out:
/// the admin and a clinician still sign in, and the stranger gets `429` with `Retry-After`.
#[tokio::test]
async fn junk_logins_do_not_lock_the_clinic_out() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let mut clin = app.staff(&admin, "clinician", "C", true).await;
    let mut limited = None;
    for _ in 0..40 {
        let r = login_start_raw(&app, &uuid::Uuid::new_v4().to_string()).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = limited.expect("junk logins are limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let r = app.login(&mut admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.login(&mut clin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Hammering one clinician's login limits that clinician (with back-off), not the admin.
#[tokio::test]
async fn one_persons_budget_is_their_own() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let mut first_wait: i64 = 0;
    for i in 0..40 {
        let r = login_start_raw(&app, &clin.user_id).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            first_wait = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(i >= 10, "at least the per-person budget before a refusal");
            break;
        }
    }
    assert!(first_wait > 0, "a person's logins are limited");
    // Blocked for the wait; after it, one more overflow doubles it.
    app.advance(first_wait * 1000);
    let mut second_wait: i64 = 0;
    for _ in 0..40 {
        let r = login_start_raw(&app, &clin.user_id).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            second_wait = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            break;
        }
    }
    assert_eq!(second_wait, 2 * first_wait, "exponential back-off");
    let r = app.login(&mut admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// `enroll/start` refuses a code that cannot enroll (unknown or used) before storing a
/// ceremony; display names with NUL or bidi overrides are refused.
#[tokio::test]
async fn enrollment_and_names_are_checked_up_front() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let r = app
        .post(
            &app.t("/enroll/start"),
            serde_json::json!({"invite_code": "not-a-code", "user_name": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // The setup code was used by the admin's enrollment.
    let r = app
        .post(
            &app.t("/enroll/start"),
            serde_json::json!({"invite_code": app.setup_code, "user_name": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    for bad in ["Ann\u{0}a", "evil\u{202E}txt", "a\u{2067}b"] {
        let r = app
            .call(
                &admin,
                "POST",
                &app.t("/invites"),
                Some(serde_json::json!({"role": "clinician", "display_name": bad})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(r.body["error"]["code"], "invalid_display_name");
    }
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/invites"),
            Some(serde_json::json!({"role": "clinician", "display_name": "Dr. Müller"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .post(
            &app.t("/enroll/start"),
            serde_json::json!({"invite_code": r.body["code"], "user_name": "M\u{202E}x"}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "invalid_user_name");
}

/// A new login on a device ends that device's earlier session (decided: one live session
/// per device); the person's session on another device is untouched.
#[tokio::test]
async fn a_new_login_ends_the_devices_earlier_session() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let old = admin.clone_session();
    let r = app.login(&mut admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&old, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.call(&admin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A request replayed at the exact edge of the freshness window (inclusive) is still refused:
/// its nonce outlives the window.
#[tokio::test]
async fn a_replay_at_the_edge_of_the_window_is_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let path = app.t("/me");
    let skew = app.state.config.max_skew_ms;
    let first = app.signed(&admin, "GET", &path, None);
    let (parts, body) = first.into_parts();
    let replay = axum::http::Request::from_parts(parts.clone(), axum::body::Body::empty());
    let r = app.raw(axum::http::Request::from_parts(parts, body)).await;
    assert_eq!(r.status, StatusCode::OK);
    app.advance(skew);
    let r = app.raw(replay).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "replayed_request");
}

/// Exports and the other consequential admin actions need a fresh passkey assertion: a login
/// six minutes ago is not enough; a step-up is.
#[tokio::test]
async fn exports_approval_admin_invites_and_reject_need_a_step_up() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let pending = app.staff(&admin, "clinician", "P", false).await;
    app.advance(6 * 60 * 1000);
    let audit_csv = app.t("/audit?format=csv");
    let breach_csv = app.t(&format!(
        "/devices/{}/breach-scope?format=csv",
        pending.device_id
    ));
    let approve = app.t(&format!("/devices/{}/approve", pending.device_id));
    let reject = app.t(&format!(
        "/quarantine/{}/reject",
        ward_proto::VersionId::random()
    ));
    let admin_invite = serde_json::json!({"role": "admin", "display_name": "A2"});
    for (method, path, body) in [
        ("GET", &audit_csv, None),
        ("GET", &breach_csv, None),
        ("POST", &approve, None),
        ("POST", &reject, None),
        ("POST", &app.t("/invites"), Some(admin_invite.clone())),
    ] {
        let r = app.call(&admin, method, path, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "step_up_required", "{path}");
    }
    // The views themselves and a clinician invite do not.
    for path in [
        app.t("/audit"),
        app.t(&format!("/devices/{}/breach-scope", pending.device_id)),
    ] {
        let r = app.call(&admin, "GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/invites"),
            Some(serde_json::json!({"role": "clinician", "display_name": "C2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.step_up(&mut admin).await;
    for (method, path, body) in [
        ("GET", &audit_csv, None),
        ("GET", &breach_csv, None),
        ("POST", &approve, None),
        ("POST", &app.t("/invites"), Some(admin_invite)),
    ] {
        let r = app.call(&admin, method, path, body).await;
        assert!(r.status.is_success(), "{path}: {} {:?}", r.status, r.body);
    }
}

/// Found by an independent client written from the docs: a cursor past i64::MAX (valid for
/// the declared uint64) wrapped to the whole feed; `limit=0`, repeated and unknown parameters
/// were accepted; unknown fields in push items were accepted; bodies without a JSON content
/// type were accepted.
#[tokio::test]
async fn the_wire_refuses_what_the_docs_do_not_allow() {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let pull = app.t("/objects/pull");
    for q in [
        "?after=9223372036854775808",
        "?after=18446744073709551615",
        "?limit=0",
        "?after=1&after=2",
        "?limit=5&limit=5",
        "?colour=red",
        "?exclude_own=2",
    ] {
        let r = app.call(&admin, "GET", &format!("{pull}{q}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "bad_query", "{q}");
    }
    let r = app
        .call(
            &admin,
            "GET",
            &format!("{pull}?after=9223372036854775807"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["objects"], serde_json::json!([]));

    let extra = serde_json::json!({"objects": [{
        "object_id": ward_proto::ObjectId::random(), "version_id": ward_proto::VersionId::random(),
        "kind": 1, "envelope": "AA", "colour": "red"}]});
    let r = app
        .call(&admin, "POST", &app.t("/objects/push"), Some(extra))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_json");

    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut b = Request::post(app.t("/login/start"));
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let body = serde_json::json!({ "user_id": admin.user_id }).to_string();
        let r = app.raw(b.body(Body::from(body)).unwrap()).await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(r.body["error"]["code"], "unsupported_media_type");
    }
    let r = app
        .raw(
            Request::post(app.t("/login/start"))
                .header("content-type", "application/json; charset=utf-8")
                .body(Body::from(
                    serde_json::json!({ "user_id": admin.user_id }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// A 1 MB inline envelope gets the same answer on both adapters: rejected by the one limit
/// above the ports (the embedded store used to accept it, DynamoDB would not).
async fn a_big_inline_envelope_is_refused_alike(app: TestApp) {
    use common::{envelope, item, release_keys};
    use ward_proto::{Kind, ObjectId};
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let keys = release_keys(&app, &clin).await;
    let (x, x_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Client,
        b"x",
    );
    let (n, n_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        &vec![b'a'; 1 << 20],
    );
    let (ok, ok_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Note,
        &vec![b'a'; 300 * 1024],
    );
    let r = push(
        &app,
        &clin,
        vec![
            item(&x, None, &x_env),
            item(&n, Some(x.object), &n_env),
            item(&ok, Some(x.object), &ok_env),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body[1]["status"], "rejected", "{:?}", r.body[1]);
    assert!(r.body[1]["reason"].as_str().unwrap().contains("358400"));
    assert_eq!(r.body[2]["status"], "created", "{:?}", r.body[2]);
}

#[tokio::test]
async fn a_big_inline_envelope_is_refused_on_the_embedded_store() {
    a_big_inline_envelope_is_refused_alike(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_inline_envelope_is_refused_on_dynamodb() {
    a_big_inline_envelope_is_refused_alike(TestApp::on_moto().await).await;
}

/// On Lambda a request's body is `lambda_http::Body`, whose size is not known up front: a GET
/// (or a POST without a body) carries no Content-Length and no Content-Type. Such a request has
/// no body (RFC 9112 §6.3) and must not be answered 415 (the Lambda bench found every GET
/// refused that way); a body that is there still has to say it is JSON.
#[tokio::test]
async fn a_lambda_request_without_a_body_is_not_refused_as_not_json() {
    use tower::ServiceExt as _;
    let app = TestApp::new().await;
    let send = |req: axum::http::Request<axum::body::Body>| {
        let router = app.router.clone();
        async move { router.oneshot(req).await.unwrap().status() }
    };
    let lambda_empty = || axum::body::Body::new(lambda_http::Body::Empty);
    let get = axum::http::Request::get("/healthz")
        .body(lambda_empty())
        .unwrap();
    assert_eq!(send(get).await, StatusCode::OK);
    let me = axum::http::Request::get(app.t("/me"))
        .body(lambda_empty())
        .unwrap();
    assert_eq!(
        send(me).await,
        StatusCode::UNAUTHORIZED,
        "unsigned, not 415"
    );
    let post = axum::http::Request::post(app.t("/step-up/start"))
        .body(lambda_empty())
        .unwrap();
    assert_eq!(
        send(post).await,
        StatusCode::UNAUTHORIZED,
        "unsigned, not 415"
    );
    // A text body from Lambda is still refused for its type.
    let text = axum::http::Request::post(app.t("/objects/push"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::new(lambda_http::Body::Text("{}".into())))
        .unwrap();
    assert_eq!(send(text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
