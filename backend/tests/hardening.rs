//! Issue 13's hardening of the lifecycle and the write side, each written as the failing test
//! first: a revocation that cannot half-happen (a key vault that fails once), a key release
//! racing a revocation, writes and rescues the server checks. The wire and the ceremonies:
//! `hardening_wire.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use axum::http::StatusCode;
use common::{TestApp, push};
use serde_json::Value;
use ward_backend::error::StoreError;
use ward_backend::store::{KeyPurpose, KeyVault, StoreResult, Stores};
use ward_proto::TenantId;
use zeroize::Zeroizing;

/// A key vault that fails the next `n` calls (as KMS throttling would), then recovers; and,
/// once armed with a device, revokes it (through the device store) the moment a key is
/// unwrapped: a revocation landing while a key release reads the keys.
struct TestVault {
    inner: Arc<dyn KeyVault>,
    fail_next: AtomicU32,
    revoke_on_unwrap: std::sync::OnceLock<(Stores, TenantId, ward_proto::DeviceId)>,
}

impl TestVault {
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
impl KeyVault for TestVault {
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
        if let Some((stores, t, d)) = self.revoke_on_unwrap.get() {
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
    async fn shred_tenant_kek(&self, tenant: TenantId, key_ref: &str) -> StoreResult<()> {
        self.inner.shred_tenant_kek(tenant, key_ref).await
    }
}

async fn flaky_app() -> (TestApp, Arc<TestVault>, Stores) {
    let dir = tempfile::tempdir().unwrap();
    let (mut stores, blobs): (Stores, _) = Stores::embedded(dir.path(), common::ORIGIN).unwrap();
    let vault = Arc::new(TestVault {
        inner: stores.keys.clone(),
        fail_next: AtomicU32::new(0),
        revoke_on_unwrap: std::sync::OnceLock::new(),
    });
    stores.keys = vault.clone();
    let app = TestApp::with_stores(stores.clone(), Some(blobs), dir).await;
    (app, vault, stores)
}

fn epoch_of(r: &Value) -> u64 {
    r["current_epoch"].as_u64().unwrap()
}

/// The wipe command step fails (the seed cannot be unwrapped): the device is already revoked.
/// Retrying the same request completes the revocation instead of answering 409, and the phone
/// gets its wipe command at the next contact.
#[tokio::test]
async fn a_revocation_that_fails_half_way_is_completed_by_its_retry() {
    let (app, vault, _) = flaky_app().await;
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
    let (app, vault, _) = flaky_app().await;
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
    let (app, vault, _) = flaky_app().await;
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
    let x = common::push_client(&app, &a, &keys[0]).await;
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
    let x = common::push_client(&app, &owner, &keys[0]).await;

    app.revoke(&mut admin, &desk).await;
    let (n, n_env) = envelope(&app.tenant, &keys[0], ObjectId::random(), Kind::Note, b"n");
    let r = rescue(&app, &desk, vec![item(&n, Some(x.object), &n_env)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body[0]["status"], "rejected", "front desk rescued a note");

    app.revoke(&mut admin, &other).await;
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

/// A key release racing a revocation releases nothing: the device is checked again after the
/// keys were read.
#[tokio::test]
async fn a_key_release_racing_a_revocation_releases_nothing() {
    let (app, vault, stores) = flaky_app().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "C", true).await;
    let _ = vault
        .revoke_on_unwrap
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

/// A note version sealed with `state`, as `item` JSON with `parent`.
fn note_version(
    app: &TestApp,
    key: &ward_proto::TenantKey,
    note: ward_proto::ObjectId,
    client: ward_proto::ObjectId,
    parent: Option<ward_proto::VersionId>,
    state: ward_proto::NoteState,
) -> (ward_proto::VersionId, Value) {
    let o = ward_proto::ObjectRef {
        tenant: app.tenant.parse().unwrap(),
        object: note,
        version: ward_proto::VersionId::random(),
        kind: ward_proto::Kind::Note,
    };
    let env = ward_proto::Envelope::seal_note(o, state, key, b"note").unwrap();
    let mut it = common::item(&o, Some(client), &env);
    it["parent_version"] = serde_json::json!(parent);
    (o.version, it)
}

/// A signed note is locked on the server: no version may follow the signed one (a plain draft,
/// another signed version, a format-1 envelope, a version in the same push), an addendum is a
/// note of its own and locked too, and a retry of what was stored before the lock still
/// answers `duplicate`. A rescued version of a note signed since cannot be accepted.
async fn a_signed_note_takes_no_further_version(app: TestApp) {
    use ward_proto::NoteState::{Addendum, Draft, Signed};
    use ward_proto::{Kind, ObjectId};
    let mut admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "A", true).await;
    let keys = common::release_keys(&app, &a).await;
    let k = &keys[0];
    let x = common::push_client(&app, &a, k).await.object;
    let note = ObjectId::random();
    let status = |r: &common::Resp, i: usize| r.body[i]["status"].as_str().unwrap().to_string();

    let (v1, i1) = note_version(&app, k, note, x, None, Draft);
    let (v2, i2) = note_version(&app, k, note, x, Some(v1), Signed);
    let r = push(&app, &a, vec![i1.clone(), i2.clone()]).await;
    assert_eq!(
        (status(&r, 0), status(&r, 1)),
        ("created".into(), "created".into())
    );
    // The retry of that push (its answer lost) is a duplicate, draft included.
    let r = push(&app, &a, vec![i1, i2]).await;
    assert_eq!(
        (status(&r, 0), status(&r, 1)),
        ("duplicate".into(), "duplicate".into())
    );

    // Nothing follows the signed version.
    let (_, over) = note_version(&app, k, note, x, Some(v2), Draft);
    let (_, sibling) = note_version(&app, k, note, x, Some(v1), Draft);
    let (_, resigned) = note_version(&app, k, note, x, Some(v2), Signed);
    let (_, as_addendum) = note_version(&app, k, note, x, None, Addendum);
    let v1_ref = ward_proto::ObjectRef {
        tenant: app.tenant.parse().unwrap(),
        object: note,
        version: ward_proto::VersionId::random(),
        kind: Kind::Note,
    };
    let format_one = common::item(&v1_ref, Some(x), &common::format_one(&v1_ref, k, b"old"));
    let r = push(
        &app,
        &a,
        vec![over, sibling, resigned, as_addendum, format_one],
    )
    .await;
    for i in 0..5 {
        assert_eq!(status(&r, i), "rejected", "{i}: {:?}", r.body);
    }
    assert!(r.body[0]["reason"].as_str().unwrap().contains("locked"));

    // Within one push: a draft after the signed version of a new note is refused.
    let fresh = ObjectId::random();
    let (f1, i1) = note_version(&app, k, fresh, x, None, Draft);
    let (f2, i2) = note_version(&app, k, fresh, x, Some(f1), Signed);
    let (_, i3) = note_version(&app, k, fresh, x, Some(f2), Draft);
    let r = push(&app, &a, vec![i1, i2, i3]).await;
    let got: Vec<String> = (0..3).map(|i| status(&r, i)).collect();
    assert_eq!(got, ["created", "created", "rejected"]);

    // An addendum: a new object, without a parent, and locked itself.
    let add = ObjectId::random();
    let (a1, ai) = note_version(&app, k, add, x, None, Addendum);
    let (_, with_parent) = note_version(&app, k, ObjectId::random(), x, Some(v2), Addendum);
    let r = push(&app, &a, vec![ai, with_parent]).await;
    assert_eq!(
        (status(&r, 0), status(&r, 1)),
        ("created".into(), "rejected".into())
    );
    let (_, after) = note_version(&app, k, add, x, Some(a1), Draft);
    let r = push(&app, &a, vec![after]).await;
    assert_eq!(status(&r, 0), "rejected");

    // A draft rescued from a lost phone, accepted after the note was signed elsewhere.
    let other = ObjectId::random();
    let (o1, oi) = note_version(&app, k, other, x, None, Draft);
    let r = push(&app, &a, vec![oi]).await;
    assert_eq!(status(&r, 0), "created");
    let lost = app.staff(&admin, "admin", "Lost", true).await;
    app.revoke(&mut admin, &lost).await;
    let (rescued, ri) = note_version(&app, k, other, x, Some(o1), Draft);
    let r = rescue(&app, &lost, vec![ri]).await;
    assert_eq!(status(&r, 0), "created", "{:?}", r.body);
    let (_, si) = note_version(&app, k, other, x, Some(o1), Signed);
    let r = push(&app, &a, vec![si]).await;
    assert_eq!(status(&r, 0), "created");
    app.step_up(&mut admin).await;
    let path = app.t(&format!("/quarantine/{rescued}/accept"));
    let r = app.call(&admin, "POST", &path, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "note_locked");
    // Still pending: the admin can reject it (its text is not lost to the decision).
    let pending = app.call(&admin, "GET", &app.t("/quarantine"), None).await;
    let item = pending
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["version_id"] == rescued.to_string());
    assert_eq!(item.unwrap()["status"], "pending");
}

#[tokio::test]
async fn a_signed_note_takes_no_further_version_embedded() {
    a_signed_note_takes_no_further_version(TestApp::new().await).await;
}

#[tokio::test]
async fn a_signed_note_takes_no_further_version_on_moto() {
    a_signed_note_takes_no_further_version(TestApp::on_moto().await).await;
}
