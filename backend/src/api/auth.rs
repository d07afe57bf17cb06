//! Authentication of API calls: a session bearer token *and* a signature by the session's
//! device key over the request (method, path, body hash, timestamp, nonce, session id).
//!
//! A stolen token alone is useless without the device key; a captured request cannot be
//! replayed (its nonce is stored for the skew window) or altered (the signature covers the body
//! hash). Revoked sessions, revoked or wiped devices and expired sessions are refused. Every
//! refusal is the same 401 so that probing learns nothing.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderMap, Method, Uri};
use serde::de::DeserializeOwned;
use ward_proto::signing::{self, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use ward_proto::{DeviceId, TenantId};

use super::AppState;
use crate::domain::devices::{Admission, admission};
use crate::domain::revocation;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Header carrying the session id (bound into the signature).
pub use ward_proto::errors::HEADER_SESSION;

pub use crate::domain::identity::token_hash;
pub use crate::domain::{Caller, STEP_UP_MAX_AGE_MS};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> ApiResult<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::unauthenticated(format!("missing {name}")))
}

/// How stale a device's recorded last contact may be before a request updates it.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

fn refused() -> ApiError {
    ApiError::unauthenticated("session or request signature not valid")
}

/// Authenticates a request to `tenant`.
pub async fn authenticate(
    state: &AppState,
    tenant: TenantId,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Caller> {
    let token = header(headers, "authorization")?
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthenticated("expected a Bearer token"))?;
    let device_id: DeviceId = header(headers, HEADER_DEVICE)?
        .parse()
        .map_err(|_| refused())?;
    let session_id = header(headers, HEADER_SESSION)?;
    let timestamp: i64 = header(headers, HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| refused())?;
    let nonce = header(headers, HEADER_NONCE)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let now = state.now();

    let session = state
        .stores
        .devices
        .get_session(tenant, device_id, session_id)
        .await?
        .ok_or_else(refused)?;
    if session.token_hash != token_hash(token) {
        return Err(refused());
    }
    let device = state
        .stores
        .devices
        .get_device(tenant, device_id)
        .await?
        .ok_or_else(refused)?;
    if device.user_id != session.user_id {
        return Err(refused());
    }
    // A revoked device whose wipe is still pending is answered (once its signature checks
    // out) with its wipe command, even though its sessions are dead: that is how a lost phone
    // learns it must wipe. Everything else about a dead session or device is a plain 401.
    let admission = admission(&device);
    let session_dead = session.revoked || session.expires_at_ms <= now;
    // A console session also ends after the clinic's idle timeout and absolute limit: said
    // with its own code (the bearer token already matched), so the console can say why.
    if session.console && !session_dead {
        let policy = crate::domain::identity::tenant_policy(state.env(), tenant).await?;
        if !session.live(now, &policy) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                ErrorCode::SessionExpired,
                "the console session ended after inactivity or its time limit; sign in again",
            ));
        }
    }
    // A revocation a failed request left unfinished is finished by the device's own contact
    // (once its signature checks out), so it is answered with its wipe command.
    let resumable = revocation::unfinished(&device);
    match admission {
        Admission::MustWipe(_) => {}
        Admission::Refused if resumable => {}
        Admission::Refused => return Err(refused()),
        Admission::Admitted if session_dead => return Err(refused()),
        Admission::Admitted => {}
    }
    signing::check_freshness(timestamp, now, state.config.max_skew_ms).map_err(|_| refused())?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    signing::verify_request(
        &device.public_key,
        signature,
        method.as_str(),
        path,
        body,
        timestamp,
        nonce,
        session_id,
    )
    .map_err(|_| refused())?;
    let fresh = state
        .stores
        .devices
        .use_nonce(
            tenant,
            device_id,
            nonce,
            now,
            nonce_expiry(timestamp, state.config.max_skew_ms),
        )
        .await?;
    if !fresh {
        // A distinct code: the device never reuses a nonce, so this request was delivered
        // twice by the network or replayed by someone; the device retries with a new one.
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            ErrorCode::ReplayedRequest,
            "this request (its nonce) was already received",
        ));
    }
    // Last contact is kept to the minute: one write per device per minute, not per request
    // (a commit per request would halve the store's write throughput for no reader's benefit).
    if now - device.last_seen_ms >= LAST_SEEN_RESOLUTION_MS {
        state
            .stores
            .devices
            .touch_device(tenant, device_id, now)
            .await?;
    }
    if now - session.used_ms() >= LAST_SEEN_RESOLUTION_MS && !session_dead {
        state
            .stores
            .devices
            .touch_session(tenant, device_id, &session.session_id, now)
            .await?;
    }
    let (device, admission) = if resumable {
        match revocation::resume(state.env(), tenant, &device).await {
            Ok(Some(d)) => {
                let a = crate::domain::devices::admission(&d);
                (d, a)
            }
            Ok(None) => (device, admission),
            Err(e) => {
                tracing::warn!(error = %e, "could not finish a revocation at device contact");
                (device, admission)
            }
        }
    } else {
        (device, admission)
    };
    if admission == Admission::Refused {
        return Err(refused());
    }
    if let Admission::MustWipe(signed) = admission
        && !is_wipe_path(uri.path())
    {
        return Err(ApiError::wipe_required(*signed));
    }
    Ok(Caller {
        tenant,
        session,
        device,
    })
}

/// When a request's nonce may be forgotten: strictly after the last instant its timestamp is
/// still fresh (the freshness check accepts `|now - timestamp| <= skew`, inclusive), with a
/// second to spare, so a replay at the window's very edge still finds the nonce.
pub fn nonce_expiry(timestamp: i64, max_skew_ms: i64) -> i64 {
    timestamp
        .saturating_add(max_skew_ms)
        .saturating_add(NONCE_MARGIN_MS)
}

/// How long a nonce outlives its request's freshness window.
pub const NONCE_MARGIN_MS: i64 = 1_000;

/// The only calls a revoked device with a pending wipe may make: its rescue upload and its
/// receipt (`/v1/tenants/{t}/wipe/...`).
fn is_wipe_path(path: &str) -> bool {
    let mut parts = path.trim_end_matches('/').split('/');
    matches!(
        (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next()
        ),
        (
            Some(""),
            Some("v1"),
            Some("tenants"),
            Some(_),
            Some("wipe"),
            Some("quarantine" | "keys" | "receipt"),
            None
        )
    )
}

// ------------------------------------------------------------------ extractors
//
// Every authenticated handler names who may call it in its signature: `Authed` (any session's
// device, pending allowed), `ActiveDevice` (an approved device), `Admin`, `AdminStepUp`. Each is
// an axum `FromRequest` (it needs the body: the signature covers it) and checks, in this
// order: the path's tenant (404), the body's size (413/400), the signed request (401/410), then
// the role (403) and, for `AdminStepUp`, the passkey step-up (403 `step_up_required`).

/// An authenticated request: its tenant (from the path), caller and raw body.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The path's tenant (the caller's session belongs to it).
    pub tenant: TenantId,
    /// Who signed the request.
    pub caller: Caller,
    /// The raw body (covered by the signature).
    pub body: Bytes,
}

impl Ctx {
    /// The body parsed as JSON (400 `invalid_json` otherwise).
    pub fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        super::parse_body(Ok(self.body.clone()))
    }
}

/// Reads the path's tenant and the body, and authenticates the request.
async fn extract(req: Request, state: &AppState) -> ApiResult<Ctx> {
    let (mut parts, body) = req.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| ApiError::not_found("no such tenant"))?;
    let tenant = params
        .iter()
        .find(|(k, _)| *k == "tenant")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let tenant: TenantId = super::path_id(&tenant, "tenant")?;
    let (method, uri, headers) = (
        parts.method.clone(),
        parts.uri.clone(),
        parts.headers.clone(),
    );
    let body =
        super::body_bytes(Bytes::from_request(Request::from_parts(parts, body), state).await)?;
    let caller = authenticate(state, tenant, &method, &uri, &headers, &body).await?;
    Ok(Ctx {
        tenant,
        caller,
        body,
    })
}

/// A signed request of a session's device; pending devices (and, on the wipe endpoints,
/// revoked devices with a pending wipe) allowed.
#[derive(Debug, Clone)]
pub struct Authed(pub Ctx);

/// A signed request from a device an admin approved.
#[derive(Debug, Clone)]
pub struct ActiveDevice(pub Ctx);

/// A signed request from an admin on an approved device.
#[derive(Debug, Clone)]
pub struct Admin(pub Ctx);

/// [`Admin`] with a passkey assertion in the last [`STEP_UP_MAX_AGE_MS`].
#[derive(Debug, Clone)]
pub struct AdminStepUp(pub Ctx);

impl FromRequest<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        Ok(Self(extract(req, state).await?))
    }
}

impl FromRequest<AppState> for ActiveDevice {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        let ctx = extract(req, state).await?;
        ctx.caller.require_active()?;
        Ok(Self(ctx))
    }
}

impl FromRequest<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        let ctx = extract(req, state).await?;
        ctx.caller.require_admin()?;
        Ok(Self(ctx))
    }
}

impl FromRequest<AppState> for AdminStepUp {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> ApiResult<Self> {
        let Admin(ctx) = Admin::from_request(req, state).await?;
        ctx.caller.require_step_up(state.now())?;
        Ok(Self(ctx))
    }
}
