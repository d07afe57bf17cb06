//! Authentication of API calls: a session bearer token *and* a signature by the session's
//! device key over the request (method, path, body hash, timestamp, nonce, session id).
//!
//! A stolen token alone is useless without the device key; a captured request cannot be
//! replayed (its nonce is stored for the skew window) or altered (the signature covers the body
//! hash). Revoked sessions, revoked or wiped devices and expired sessions are refused. Every
//! refusal is the same 401 so that probing learns nothing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, Uri};
use ring::digest::{SHA256, digest};
use ward_proto::signing::{self, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use ward_proto::{DeviceId, TenantId};

use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::model::{Device, DeviceStatus, Role, Session};

/// Header carrying the session id (bound into the signature).
pub use ward_proto::errors::HEADER_SESSION;

/// How recent a passkey assertion must be for destructive admin actions.
pub const STEP_UP_MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Tenant of the request (from the path; the session must belong to it).
    pub tenant: TenantId,
    /// The session.
    pub session: Session,
    /// The device that signed the request.
    pub device: Device,
}

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.session.role
    }

    /// The user id as text (audit actor).
    pub fn actor(&self) -> String {
        self.session.user_id.to_string()
    }

    /// Appends a server audit event for this caller (who, which device, what, when).
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: Option<String>,
    ) -> ApiResult<()> {
        let r = crate::model::AuditRecord {
            at_ms: state.now(),
            actor: self.actor(),
            device_id: Some(self.device.device_id),
            action: action.into(),
            target,
        };
        Ok(state.stores.audit.append(self.tenant, &r).await?)
    }

    /// Refuses every device but a revoked one whose wipe is pending (the wipe endpoints).
    pub fn require_wiping(&self) -> ApiResult<&crate::model::WipeState> {
        match (&self.device.status, &self.device.wipe) {
            (DeviceStatus::Revoked, Some(w)) if w.receipt.is_none() => Ok(w),
            _ => Err(ApiError::conflict(
                "no_wipe_pending",
                "this device has no pending wipe",
            )),
        }
    }

    /// Refuses devices not approved by an admin.
    pub fn require_active(&self) -> ApiResult<()> {
        if self.device.status == DeviceStatus::Active {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this device is awaiting approval by a clinic admin",
            ))
        }
    }

    /// Refuses non-admins.
    pub fn require_admin(&self) -> ApiResult<()> {
        self.require_active()?;
        if self.role() == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("admin role required"))
        }
    }

    /// Refuses unless a passkey assertion happened in the last five minutes.
    pub fn require_step_up(&self, now_ms: i64) -> ApiResult<()> {
        if now_ms - self.session.authenticated_at_ms <= STEP_UP_MAX_AGE_MS {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "step_up_required",
                "confirm with your passkey first (step-up)",
            ))
        }
    }
}

/// SHA-256 (hex) of a session token.
pub fn token_hash(token: &str) -> String {
    hex::encode(digest(&SHA256, token.as_bytes()))
}

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
    let pending_wipe = match (&device.status, &device.wipe) {
        (DeviceStatus::Revoked, Some(w)) if w.receipt.is_none() => Some(w.signed.clone()),
        _ => None,
    };
    let session_dead = session.revoked || session.expires_at_ms <= now;
    if pending_wipe.is_none()
        && (session_dead || matches!(device.status, DeviceStatus::Revoked | DeviceStatus::Wiped))
    {
        return Err(refused());
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
            timestamp + state.config.max_skew_ms,
        )
        .await?;
    if !fresh {
        // A distinct code: the device never reuses a nonce, so this request was delivered
        // twice by the network or replayed by someone; the device retries with a new one.
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "replayed_request",
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
    if let Some(signed) = pending_wipe
        && !is_wipe_path(uri.path())
    {
        return Err(ApiError::wipe_required(signed));
    }
    Ok(Caller {
        tenant,
        session,
        device,
    })
}

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
            Some("quarantine" | "receipt"),
            None
        )
    )
}

/// The common start of every authenticated handler: the tenant from the path, the raw body
/// (size-checked), and the authenticated caller.
pub async fn authed(
    state: &AppState,
    tenant: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(TenantId, Caller, Bytes)> {
    let tenant: TenantId = super::path_id(tenant, "tenant")?;
    let body = super::body_bytes(body)?;
    let caller = authenticate(state, tenant, method, uri, headers, &body).await?;
    Ok((tenant, caller, body))
}

/// [`authed`] for admin endpoints: an admin on an approved device.
pub async fn authed_admin(
    state: &AppState,
    tenant: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(TenantId, Caller, Bytes)> {
    let (tenant, caller, body) = authed(state, tenant, method, uri, headers, body).await?;
    caller.require_admin()?;
    Ok((tenant, caller, body))
}

/// [`authed`] for endpoints only an approved, active device may call (sync, photos).
pub async fn authed_active(
    state: &AppState,
    tenant: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(TenantId, Caller, Bytes)> {
    let (tenant, caller, body) = authed(state, tenant, method, uri, headers, body).await?;
    caller.require_active()?;
    Ok((tenant, caller, body))
}
