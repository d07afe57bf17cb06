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
use ward_backend::store::{KeyVault, StoreResult, Stores};
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
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        self.trip()?;
        self.inner.generate_tenant_key(tenant, key_ref).await
    }
    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.trip()?;
        self.inner.unwrap_tenant_key(tenant, key_ref, wrapped).await
    }
    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        self.inner.wrap_tenant_key(tenant, key_ref, plaintext).await
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
