//! Issue 13's hardening, each written as the failing test first: a revocation that cannot
//! half-happen (a key vault that fails once), and the other lifecycle and write-side holes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::Value;
use ward_backend::error::StoreError;
use ward_backend::store::{KeyPurpose, KeyVault, StoreResult, Stores};
use ward_proto::TenantId;
use zeroize::Zeroizing;

/// A key vault that fails the next `n` calls (as KMS throttling would), then recovers.
struct FlakyVault {
    inner: Arc<dyn KeyVault>,
    fail_next: AtomicU32,
}

impl FlakyVault {
    fn trip(&self) -> StoreResult<()> {
        let left = self.fail_next.load(Ordering::SeqCst);
        if left > 0 {
            self.fail_next.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Backend("ThrottlingException (test)".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl KeyVault for FlakyVault {
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String> {
        self.inner.create_tenant_kek(tenant).await
    }
    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        self.trip()?;
        self.inner
            .generate_tenant_key(tenant, key_ref, purpose)
            .await
    }
    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.trip()?;
        self.inner
            .unwrap_tenant_key(tenant, key_ref, purpose, wrapped)
            .await
    }
    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        self.inner
            .wrap_tenant_key(tenant, key_ref, purpose, plaintext)
            .await
    }
}

async fn flaky_app() -> (TestApp, Arc<FlakyVault>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut stores, blobs): (Stores, _) = Stores::embedded(dir.path(), common::ORIGIN).unwrap();
    let vault = Arc::new(FlakyVault {
        inner: stores.keys.clone(),
        fail_next: AtomicU32::new(0),
    });
    stores.keys = vault.clone();
    (TestApp::with_stores(stores, Some(blobs), dir).await, vault)
}

fn epoch_of(r: &Value) -> u64 {
    r["current_epoch"].as_u64().unwrap()
}

/// The wipe command step fails (the seed cannot be unwrapped): the device is already revoked.
/// Retrying the same request completes the revocation instead of answering 409, and the phone
/// gets its wipe command at the next contact.
#[tokio::test]
async fn a_revocation_that_fails_half_way_is_completed_by_its_retry() {
    let (app, vault) = flaky_app().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let before = app.call(&admin, "GET", &app.t("/me"), None).await;
    app.step_up(&mut admin).await;
    let revoke = app.t(&format!("/devices/{}/revoke", clin.device_id));

    vault.fail_next.store(1, Ordering::SeqCst);
    let r = app.call(&admin, "POST", &revoke, None).await;
    assert!(r.status.is_server_error(), "{} {:?}", r.status, r.body);
    // Half-way: the device is refused already (never half-admitted).
    let r = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert!(r.status.is_client_error(), "{:?}", r.body);

    let r = app.call(&admin, "POST", &revoke, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["wipe_command_id"].is_string(), "{:?}", r.body);
    let command = r.body["wipe_command_id"].clone();
    // A retry after it completed answers the same revocation, and rotates no further.
    let again = app.call(&admin, "POST", &revoke, None).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["wipe_command_id"], command);
    assert_eq!(again.body["epoch"], r.body["epoch"]);

    let r = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "wipe_required");
    let after = app.call(&admin, "GET", &app.t("/me"), None).await;
    assert_eq!(epoch_of(&after.body), epoch_of(&before.body) + 1);
}

/// The rotation step fails and nobody retries: the sweeper finishes the revocation, and the
/// phone's own next contact is answered with its wipe.
#[tokio::test]
async fn a_revocation_nobody_retries_is_finished_by_the_sweeper() {
    let (app, vault) = flaky_app().await;
    let mut admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let before = app.call(&admin, "GET", &app.t("/me"), None).await;
    app.step_up(&mut admin).await;
    // Unwrap of the wipe seed succeeds, the rotation's generate fails: fail two calls so the
    // request fails whichever step comes first.
    vault.fail_next.store(2, Ordering::SeqCst);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/revoke", clin.device_id)),
            None,
        )
        .await;
    assert!(r.status.is_server_error(), "{} {:?}", r.status, r.body);
    vault.fail_next.store(0, Ordering::SeqCst);

    let swept = ward_backend::domain::lifecycle::sweep(app.state.env())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(
        ward_backend::domain::lifecycle::sweep(app.state.env())
            .await
            .unwrap(),
        0,
        "a finished revocation is not swept again"
    );
    let r = app.call(&clin, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    let after = app.call(&admin, "GET", &app.t("/me"), None).await;
    assert_eq!(epoch_of(&after.body), epoch_of(&before.body) + 1);
}

/// A lockdown that fails half-way is finished by its retry: every other device wipes.
#[tokio::test]
async fn a_lockdown_that_fails_half_way_is_completed_by_its_retry() {
    let (app, vault) = flaky_app().await;
    let mut admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "A", true).await;
    let b = app.staff(&admin, "clinician", "B", true).await;
    app.step_up(&mut admin).await;
    vault.fail_next.store(1, Ordering::SeqCst);
    let r = app.call(&admin, "POST", &app.t("/lockdown"), None).await;
    assert!(r.status.is_server_error(), "{} {:?}", r.status, r.body);
    let r = app.call(&admin, "POST", &app.t("/lockdown"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for d in [&a, &b] {
        let r = app.call(d, "GET", &app.t("/me"), None).await;
        assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);
    }
}

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

async fn push(app: &TestApp, d: &common::Device, items: Vec<Value>) -> common::Resp {
    let body = serde_json::json!({ "objects": items });
    app.call(d, "POST", &app.t("/objects/push"), Some(body))
        .await
}

/// A pushed version must keep its object's client and kind: a clinician on client A's team
/// cannot add a version to client B's note by tagging it A, and front desk cannot write a
/// client record into a note's object id.
#[tokio::test]
async fn a_version_keeps_its_objects_client_and_kind() {
    use common::{envelope, item, release_keys};
    use ward_proto::{Kind, ObjectId};
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "A", true).await;
    let b = app.staff(&admin, "clinician", "B", true).await;
    let desk = app.staff(&admin, "front_desk", "D", true).await;
    let keys = release_keys(&app, &a).await;
    // A creates client X, B creates client Y with a note.
    let (x, x_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Client,
        b"x",
    );
    let r = push(&app, &a, vec![item(&x, None, &x_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    let (y, y_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Client,
        b"y",
    );
    let note_id = ObjectId::random();
    let (n, n_env) = envelope(&app.tenant, &keys[0], note_id, Kind::Note, b"note of Y");
    let r = push(
        &app,
        &b,
        vec![item(&y, None, &y_env), item(&n, Some(y.object), &n_env)],
    )
    .await;
    assert_eq!(r.body[1]["status"], "created", "{:?}", r.body);

    // A adds a version to Y's note, tagged with A's client X.
    let (n2, n2_env) = envelope(&app.tenant, &keys[0], note_id, Kind::Note, b"overwrite");
    let r = push(&app, &a, vec![item(&n2, Some(x.object), &n2_env)]).await;
    assert_eq!(r.body[0]["status"], "rejected", "{:?}", r.body);
    assert!(
        r.body[0]["reason"]
            .as_str()
            .unwrap()
            .contains("another client"),
        "{:?}",
        r.body
    );
    // Front desk writes a "client record" into the note's object id.
    let (c, c_env) = envelope(&app.tenant, &keys[0], note_id, Kind::Client, b"desk");
    let r = push(&app, &desk, vec![item(&c, None, &c_env)]).await;
    assert_eq!(r.body[0]["status"], "rejected", "{:?}", r.body);
    // B's own next version of the note, correctly tagged, is fine.
    let (n3, n3_env) = envelope(&app.tenant, &keys[0], note_id, Kind::Note, b"v2");
    let r = push(&app, &b, vec![item(&n3, Some(y.object), &n3_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
}

async fn revoke(app: &TestApp, admin: &mut common::Device, d: &common::Device) {
    app.step_up(admin).await;
    let path = app.t(&format!("/devices/{}/revoke", d.device_id));
    let r = app.call(admin, "POST", &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn rescue(app: &TestApp, d: &common::Device, items: Vec<Value>) -> common::Resp {
    let body = serde_json::json!({ "objects": items });
    app.call(d, "POST", &app.t("/wipe/quarantine"), Some(body))
        .await
}

/// A revoked phone's rescue upload is checked like a push: a front-desk phone cannot put notes
/// into the record, a clinician cannot rescue a record of a client whose team they are not on,
/// and accepting a rescued record grants no care-team membership for an existing client.
#[tokio::test]
async fn a_rescue_is_checked_like_a_push() {
    use common::{envelope, item, release_keys};
    use ward_proto::{Kind, ObjectId};
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let owner = app.staff(&admin, "clinician", "Owner", true).await;
    let other = app.staff(&admin, "clinician", "Other", true).await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let keys = release_keys(&app, &owner).await;
    let (x, x_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Client,
        b"x",
    );
    let r = push(&app, &owner, vec![item(&x, None, &x_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);

    revoke(&app, &mut admin, &desk).await;
    let (n, n_env) = envelope(&app.tenant, &keys[0], ObjectId::random(), Kind::Note, b"n");
    let r = rescue(&app, &desk, vec![item(&n, Some(x.object), &n_env)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body[0]["status"], "rejected", "front desk rescued a note");

    revoke(&app, &mut admin, &other).await;
    // A version of existing client X's record, from a clinician not on X's team.
    let (x2, x2_env) = envelope(&app.tenant, &keys[0], x.object, Kind::Client, b"x2");
    // And a client created offline on that phone, with a note: both rescued.
    let (z, z_env) = envelope(
        &app.tenant,
        &keys[0],
        ObjectId::random(),
        Kind::Client,
        b"z",
    );
    let (zn, zn_env) = envelope(&app.tenant, &keys[0], ObjectId::random(), Kind::Note, b"zn");
    let r = rescue(
        &app,
        &other,
        vec![
            item(&zn, Some(z.object), &zn_env),
            item(&x2, None, &x2_env),
            item(&z, None, &z_env),
        ],
    )
    .await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    assert_eq!(r.body[1]["status"], "rejected", "{:?}", r.body);
    assert_eq!(r.body[2]["status"], "created", "{:?}", r.body);
    // Accepting the new client makes its author a member of its team (as a push would);
    // X's team is untouched.
    app.step_up(&mut admin).await;
    for v in [z.version, zn.version] {
        let r = app
            .call(
                &admin,
                "POST",
                &app.t(&format!("/quarantine/{v}/accept")),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let teams = app
        .state
        .stores
        .identity
        .list_care_teams(app.tenant.parse().unwrap())
        .await
        .unwrap();
    let other_user: uuid::Uuid = other.user_id.parse().unwrap();
    assert!(teams.contains(&(z.object, other_user)));
    assert!(!teams.contains(&(x.object, other_user)));
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

/// A key vault that revokes a device (through the device store) the moment a key is
/// unwrapped: a revocation landing while a key release reads the keys.
struct RevokingVault {
    inner: Arc<dyn KeyVault>,
    target: std::sync::OnceLock<(Stores, TenantId, ward_proto::DeviceId)>,
}

#[async_trait]
impl KeyVault for RevokingVault {
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String> {
        self.inner.create_tenant_kek(tenant).await
    }
    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        self.inner
            .generate_tenant_key(tenant, key_ref, purpose)
            .await
    }
    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        if let Some((stores, t, d)) = self.target.get() {
            use ward_backend::model::DeviceStatus;
            stores
                .devices
                .set_device_status(*t, *d, &[DeviceStatus::Active], DeviceStatus::Revoked)
                .await?;
        }
        self.inner
            .unwrap_tenant_key(tenant, key_ref, purpose, wrapped)
            .await
    }
    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        self.inner
            .wrap_tenant_key(tenant, key_ref, purpose, plaintext)
            .await
    }
}

/// A key release racing a revocation releases nothing: the device is checked again after the
/// keys were read.
#[tokio::test]
async fn a_key_release_racing_a_revocation_releases_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut stores, blobs) = Stores::embedded(dir.path(), common::ORIGIN).unwrap();
    let vault = Arc::new(RevokingVault {
        inner: stores.keys.clone(),
        target: std::sync::OnceLock::new(),
    });
    stores.keys = vault.clone();
    let app = TestApp::with_stores(stores.clone(), Some(blobs), dir).await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let _ = vault
        .target
        .set((stores, app.tenant.parse().unwrap(), clin.device_id));
    let req = ward_proto::sealed::SealRequestKey::generate().unwrap();
    let r = app
        .call(
            &clin,
            "POST",
            &app.t("/keys/release"),
            Some(serde_json::json!({"ephemeral_public": common::b64(&req.public_key())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.body.get("sealed").is_none());
}
