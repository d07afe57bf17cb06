//! The HTTP API: one axum [`Router`] built by [`router`], served by `axum::serve` locally and by
//! `lambda_http` on AWS. Handlers only translate HTTP; rules live in the submodules' functions
//! over the storage ports.
//!
//! Every error leaves as JSON (see [`crate::error`]); unknown routes and wrong methods too.
//! Request bodies are taken as raw bytes and parsed by hand so a malformed body is a 400 JSON
//! error, never a plain-text rejection or a panic.

pub mod auth;
pub mod console;
pub mod devices;
pub mod identity;
pub mod keys;
pub mod lifecycle;
pub mod meta;
pub mod openapi;
pub mod photos;
pub mod reports;
pub mod sync;
pub mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post, put};
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::Stores;

pub use ward_proto::api::MAX_BODY_BYTES;

/// A source of time (ms since the epoch), injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Storage ports.
    pub stores: Stores,
    /// WebAuthn relying party.
    pub webauthn: Arc<Webauthn>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Time.
    pub clock: Clock,
    /// Embedded mode: the local blob store behind `/blobs` URLs.
    pub local_blobs: Option<Arc<crate::store::local_blobs::LocalBlobs>>,
    limiter: Arc<RateLimiter>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for `config` over `stores`.
    pub fn new(stores: Stores, config: Config, clock: Clock) -> anyhow::Result<Self> {
        let origin = Url::parse(&config.web_origin)?;
        let mut builder = WebauthnBuilder::new(&config.rp_id, &origin)?.rp_name("Ward");
        for o in &config.extra_origins {
            builder = builder.append_allowed_origin(&Url::parse(o)?);
        }
        let webauthn = builder.build()?;
        Ok(Self {
            stores,
            webauthn: Arc::new(webauthn),
            config: Arc::new(config),
            clock,
            local_blobs: None,
            limiter: Arc::new(RateLimiter::default()),
        })
    }

    /// Serves `/blobs` URLs from this local store (embedded mode).
    pub fn with_local_blobs(mut self, blobs: Arc<crate::store::local_blobs::LocalBlobs>) -> Self {
        self.local_blobs = Some(blobs);
        self
    }

    /// Now, in ms.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Counts one ceremony attempt for `key`; refuses beyond 30 per minute. Per process: on
    /// Lambda each warm instance counts separately (API Gateway throttling backs it up).
    pub fn rate_limit(&self, key: &str) -> ApiResult<()> {
        if self.limiter.allow(key, self.now()) {
            Ok(())
        } else {
            Err(ApiError::rate_limited())
        }
    }
}

#[derive(Default)]
struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    const WINDOW_MS: i64 = 60_000;
    const MAX: u32 = 30;

    fn allow(&self, key: &str, now: i64) -> bool {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now - *start < Self::WINDOW_MS);
        }
        let entry = w.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= Self::WINDOW_MS {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= Self::MAX
    }
}

/// Parses a JSON body, mapping every failure to a 400/413 JSON error.
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body_bytes(body)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))
}

/// The raw body, mapping extractor failures (too large, unreadable) to JSON errors.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "body_too_large",
                format!("request body over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })
}

/// Parses a path segment as an id, or 404s (an unparseable id names nothing).
pub fn path_id<T: std::str::FromStr>(s: &str, what: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|_| ApiError::not_found(format!("no such {what}")))
}

fn doc(
    method: &'static str,
    path: &str,
    summary: &'static str,
    access: openapi::Access,
    request: Option<openapi::SchemaFn>,
    response: Option<openapi::SchemaFn>,
) -> openapi::Doc {
    openapi::Doc {
        method,
        path: path.to_string(),
        summary,
        access,
        request,
        response,
    }
}

/// Every route with its documentation: the single table both [`router`] and the OpenAPI
/// document are built from.
pub fn routes() -> Vec<(openapi::Doc, MethodRouter<AppState>)> {
    use openapi::Access::*;
    use openapi::schema as s;
    type V = serde_json::Value;
    let t = "/v1/tenants/{tenant}";
    let p = |rest: &str| format!("{t}{rest}");
    vec![
        (
            doc("get", "/", "Landing page for a browser", Public, None, None),
            get(meta::index),
        ),
        (
            doc(
                "get",
                "/console",
                "The web admin console",
                Public,
                None,
                None,
            ),
            get(console::index),
        ),
        (
            doc(
                "get",
                "/console/{file}",
                "A file of the web admin console (scripts, styles)",
                Public,
                None,
                None,
            ),
            get(console::asset),
        ),
        (
            doc("get", "/healthz", "Liveness", Public, None, Some(s::<V>)),
            get(meta::healthz),
        ),
        (
            doc(
                "get",
                "/openapi.json",
                "This document",
                Public,
                None,
                Some(s::<V>),
            ),
            get(openapi_json),
        ),
        (
            doc(
                "get",
                "/.well-known/apple-app-site-association",
                "iOS passkey association",
                Public,
                None,
                Some(s::<V>),
            ),
            get(meta::apple_app_site_association),
        ),
        (
            doc(
                "get",
                "/.well-known/assetlinks.json",
                "Android passkey association",
                Public,
                None,
                Some(s::<V>),
            ),
            get(meta::assetlinks),
        ),
        (
            doc(
                "post",
                &p("/enroll/start"),
                "Start enrollment with an invite (passkey registration)",
                Public,
                Some(s::<identity::EnrollStart>),
                Some(s::<identity::CeremonyStarted>),
            ),
            post(identity::enroll_start),
        ),
        (
            doc(
                "post",
                &p("/enroll/finish"),
                "Finish enrollment: passkey + device key, returns a session",
                Public,
                Some(s::<identity::EnrollFinish>),
                Some(s::<identity::SessionGrant>),
            ),
            post(identity::enroll_finish),
        ),
        (
            doc(
                "post",
                &p("/login/start"),
                "Start a passkey login",
                Public,
                Some(s::<identity::LoginStart>),
                Some(s::<identity::CeremonyStarted>),
            ),
            post(identity::login_start),
        ),
        (
            doc(
                "post",
                &p("/login/finish"),
                "Finish a passkey login on an enrolled device",
                Public,
                Some(s::<identity::LoginFinish>),
                Some(s::<identity::SessionGrant>),
            ),
            post(identity::login_finish),
        ),
        (
            doc(
                "post",
                &p("/step-up/start"),
                "Start a step-up passkey assertion",
                Session,
                None,
                Some(s::<identity::CeremonyStarted>),
            ),
            post(identity::step_up_start),
        ),
        (
            doc(
                "post",
                &p("/step-up/finish"),
                "Finish a step-up",
                Session,
                Some(s::<identity::StepUpFinish>),
                Some(s::<V>),
            ),
            post(identity::step_up_finish),
        ),
        (
            doc(
                "get",
                &p("/me"),
                "The caller's user, role and device state",
                Session,
                None,
                Some(s::<identity::Me>),
            ),
            get(identity::me),
        ),
        (
            doc(
                "post",
                &p("/invites"),
                "Invite a staff member (returns a one-time code)",
                Admin,
                Some(s::<identity::NewInvite>),
                Some(s::<V>),
            ),
            post(identity::create_invite),
        ),
        (
            doc(
                "get",
                &p("/users"),
                "The clinic's staff (admin console)",
                Admin,
                None,
                Some(s::<Vec<users::StaffMember>>),
            ),
            get(users::list),
        ),
        (
            doc(
                "get",
                &p("/devices"),
                "List devices",
                Admin,
                None,
                Some(s::<Vec<crate::model::Device>>),
            ),
            get(devices::list),
        ),
        (
            doc(
                "post",
                &p("/devices/{device}/approve"),
                "Approve a pending device",
                Admin,
                None,
                Some(s::<V>),
            ),
            post(devices::approve),
        ),
        (
            doc(
                "post",
                &p("/devices/{device}/revoke"),
                "Revoke a device: sessions, key rotation, signed wipe command",
                AdminStepUp,
                None,
                Some(s::<V>),
            ),
            post(devices::revoke),
        ),
        (
            doc(
                "post",
                &p("/lockdown"),
                "Revoke every other device, rotate the key, end every session",
                AdminStepUp,
                None,
                Some(s::<V>),
            ),
            post(lifecycle::lockdown),
        ),
        (
            doc(
                "get",
                &p("/policy"),
                "The clinic's policies",
                Device,
                None,
                Some(s::<crate::model::TenantPolicy>),
            ),
            get(lifecycle::policy_get),
        ),
        (
            doc(
                "put",
                &p("/policy"),
                "Replace the clinic's policies",
                AdminStepUp,
                Some(s::<crate::model::TenantPolicy>),
                Some(s::<crate::model::TenantPolicy>),
            ),
            put(lifecycle::policy_put),
        ),
        (
            doc(
                "get",
                &p("/quarantine"),
                "Versions rescued by revoked devices",
                Admin,
                None,
                Some(s::<Vec<crate::model::QuarantineItem>>),
            ),
            get(lifecycle::quarantine_list),
        ),
        (
            doc(
                "post",
                &p("/quarantine/{version}/accept"),
                "Accept a rescued version into the record",
                Admin,
                None,
                Some(s::<crate::model::QuarantineItem>),
            ),
            post(lifecycle::quarantine_accept),
        ),
        (
            doc(
                "post",
                &p("/quarantine/{version}/reject"),
                "Reject a rescued version",
                Admin,
                None,
                Some(s::<crate::model::QuarantineItem>),
            ),
            post(lifecycle::quarantine_reject),
        ),
        (
            doc(
                "post",
                &p("/wipe/quarantine"),
                "A revoked device's rescue upload before its wipe",
                Session,
                Some(s::<ward_proto::api::PushRequest>),
                Some(s::<Vec<ward_proto::api::PushResult>>),
            ),
            post(lifecycle::wipe_quarantine),
        ),
        (
            doc(
                "post",
                &p("/wipe/receipt"),
                "A revoked device's signed wipe receipt",
                Session,
                Some(s::<ward_proto::wipe::SignedReceipt>),
                Some(s::<crate::model::WipeState>),
            ),
            post(lifecycle::wipe_receipt),
        ),
        (
            doc(
                "post",
                &p("/keys/release"),
                "Tenant keys sealed to a one-time X25519 key",
                Device,
                Some(s::<keys::ReleaseRequest>),
                Some(s::<keys::Released>),
            ),
            post(keys::release),
        ),
        (
            doc(
                "post",
                &p("/objects/push"),
                "Push envelopes (idempotent per version)",
                Device,
                Some(s::<sync::PushRequest>),
                Some(s::<Vec<sync::PushResult>>),
            ),
            post(sync::push),
        ),
        (
            doc(
                "get",
                &p("/objects/pull"),
                "Pull the change feed after a cursor (?after=&limit=)",
                Device,
                None,
                Some(s::<sync::PullPage>),
            ),
            get(sync::pull),
        ),
        (
            doc(
                "post",
                &p("/uploads/start"),
                "Start or resume a photo upload: presigned part URLs",
                Device,
                Some(s::<photos::UploadStart>),
                Some(s::<photos::UploadPlan>),
            ),
            post(photos::start),
        ),
        (
            doc(
                "post",
                &p("/uploads/complete"),
                "Complete a photo upload",
                Device,
                Some(s::<photos::UploadComplete>),
                Some(s::<V>),
            ),
            post(photos::complete),
        ),
        (
            doc(
                "post",
                &p("/downloads"),
                "A presigned photo download URL",
                Device,
                Some(s::<photos::DownloadRequest>),
                Some(s::<V>),
            ),
            post(photos::download),
        ),
        (
            doc(
                "post",
                &p("/audit/events"),
                "Upload a segment of this device's hash-chained audit log (verified; gaps and breaks are stored flagged)",
                Device,
                Some(s::<ward_proto::audit::AuditUpload>),
                Some(s::<ward_proto::audit::AuditUploadResult>),
            ),
            post(reports::upload_events),
        ),
        (
            doc(
                "get",
                &p("/audit"),
                "Audit log, server and device events (?device=&actor=&action=&client=&since=&until=&limit=&after=&order=asc|desc&format=json|csv)",
                Admin,
                None,
                Some(s::<reports::AuditList>),
            ),
            get(reports::list),
        ),
        (
            doc(
                "get",
                &p("/devices/{device}/breach-scope"),
                "Breach-scope report of a device: clients delivered and created, last contact and unlock, wipe (?format=json|csv)",
                Admin,
                None,
                Some(s::<reports::BreachScope>),
            ),
            get(reports::breach_scope),
        ),
        (
            doc(
                "get",
                "/blobs/{*path}",
                "Download a blob (embedded mode)",
                SignedUrl,
                None,
                None,
            ),
            get(photos::local_get),
        ),
        (
            doc(
                "put",
                "/blobs/{*path}",
                "Upload a part (embedded mode)",
                SignedUrl,
                None,
                None,
            ),
            put(photos::local_put),
        ),
    ]
}

/// The OpenAPI document of [`routes`].
pub fn openapi_document() -> serde_json::Value {
    let docs: Vec<openapi::Doc> = routes().into_iter().map(|(d, _)| d).collect();
    openapi::document(&docs)
}

async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document())
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    let mut blobs = Router::new();
    for (d, handler) in routes() {
        if d.access == openapi::Access::SignedUrl {
            blobs = blobs.route(&d.path, handler);
        } else {
            api = api.route(&d.path, handler);
        }
    }
    api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Embedded mode's stand-in for S3 takes whole upload parts.
        .merge(blobs.layer(DefaultBodyLimit::max(photos::PART_SIZE as usize + 1024)))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(run_to_completion))
}

/// Runs each request's handler to completion even if the client goes away mid-request.
///
/// hyper drops a handler's future when its connection closes; a handler cut between two
/// storage writes (a photo assembled but not yet marked complete, a client created but its
/// creator not yet on the care team) would leave state a retry cannot mend. On Lambda every
/// invocation already runs to completion; this gives `ward-server` the same semantics.
async fn run_to_completion(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "request handler failed");
            axum::response::IntoResponse::into_response(ApiError::internal(e))
        }
    }
}
