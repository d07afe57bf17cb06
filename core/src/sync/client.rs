//! The HTTP side of sync: one [`ApiClient`] per device (reqwest, rustls with compiled-in
//! roots) that sends JSON to the backend, signs authenticated requests with the device key
//! (ward-proto's `ward-req-v1` canonical request, a fresh nonce each time) and sorts every
//! failure into what the engine can do about it: retry later ([`SyncError::Offline`]), wait
//! the time a 429 names ([`SyncError::RateLimited`]), log in again
//! ([`SyncError::Unauthenticated`]), or stop ([`SyncError::Refused`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ward_proto::api::{ErrorBody, TENANT_PREFIX};
use ward_proto::errors::ErrorCode;
use ward_proto::signing::{
    DeviceKey, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, new_nonce,
};
use ward_proto::{DeviceId, TenantId};
use zeroize::Zeroizing;

use super::error::SyncError;
use crate::clock::{Clock, TimeFloor, parse_http_date};

/// Header naming the session a signed request belongs to.
pub use ward_proto::errors::HEADER_SESSION;

/// A device's signed-in session.
pub struct Session {
    /// The device.
    pub device_id: DeviceId,
    /// Session id.
    pub session_id: String,
    /// Bearer token.
    pub token: Zeroizing<String>,
    /// The device's request-signing key.
    pub key: DeviceKey,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("device_id", &self.device_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// The backend, from one device's point of view.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    tenant: TenantId,
    http: reqwest::Client,
    clock: std::sync::Arc<dyn Clock>,
    /// Raised with the `Date` of every answer to a signed request (the vault's, when given).
    floor: Arc<TimeFloor>,
    /// The latest server `Date` seen by this client (0: none yet).
    server_ms: Arc<AtomicI64>,
}

/// How long to wait after a 429 that names no `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 60;
/// The longest wait a `Retry-After` may ask for (a day); longer values are capped.
const MAX_RETRY_AFTER_SECONDS: u64 = 24 * 3600;

/// Reads `Retry-After` (delay-seconds, or an HTTP date judged against the answer's `Date`).
fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(value) = get(reqwest::header::RETRY_AFTER) else {
        return DEFAULT_RETRY_AFTER_SECONDS;
    };
    let secs = value.trim().parse::<u64>().ok().or_else(|| {
        let at = parse_http_date(value)?;
        let now = get(reqwest::header::DATE).and_then(parse_http_date)?;
        Some(u64::try_from((at - now).max(0) / 1000).unwrap_or(0))
    });
    secs.unwrap_or(DEFAULT_RETRY_AFTER_SECONDS)
        .min(MAX_RETRY_AFTER_SECONDS)
}

fn offline(e: reqwest::Error) -> SyncError {
    SyncError::Offline(e.to_string())
}

impl ApiClient {
    /// A client for `tenant` at `base_url` (e.g. `https://api.example.org`).
    pub fn new(
        base_url: &str,
        tenant: TenantId,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            tenant,
            http,
            clock,
            floor: Arc::new(TimeFloor::default()),
            server_ms: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Raises `floor` (the vault's time floor) with the server's `Date` from now on.
    pub fn with_time_floor(mut self, floor: Arc<TimeFloor>) -> Self {
        self.floor = floor;
        self
    }

    /// The latest server time (its `Date` header) seen in an answer to a signed request.
    pub fn server_time_ms(&self) -> Option<i64> {
        Some(self.server_ms.load(Ordering::SeqCst)).filter(|ms| *ms > 0)
    }

    /// Takes the server's time from an answer to a signed request: the request was signed
    /// and the answer came over the same authenticated channel.
    fn observe_date(&self, resp: &reqwest::Response) {
        let Some(ms) = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
        else {
            return;
        };
        self.server_ms.fetch_max(ms, Ordering::SeqCst);
        self.floor.observe(ms);
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The tenant.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// `/v1/tenants/{tenant}{rest}`.
    pub fn path(&self, rest: &str) -> String {
        format!("{TENANT_PREFIX}/{}{rest}", self.tenant)
    }

    /// POSTs JSON without a session (enrollment and login ceremonies).
    pub async fn post_public<R: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<R, SyncError> {
        let body = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(offline)?;
        read_json(resp).await
    }

    /// Sends a request signed with the session's device key; `body` is JSON or nothing.
    pub async fn signed<R: DeserializeOwned>(
        &self,
        session: &Session,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<R, SyncError> {
        let body = body.unwrap_or_default();
        let timestamp = self.clock.now_ms();
        let nonce = new_nonce().map_err(|e| SyncError::Protocol(e.to_string()))?;
        let signature = session
            .key
            .sign_request(
                method.as_str(),
                path_and_query,
                &body,
                timestamp,
                &nonce,
                &session.session_id,
            )
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .header(
                "authorization",
                format!("Bearer {}", session.token.as_str()),
            )
            .header(HEADER_DEVICE, session.device_id.to_string())
            .header(HEADER_SESSION, &session.session_id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, signature);
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.map_err(offline)?;
        self.observe_date(&resp);
        read_json(resp).await
    }

    /// Signs and sends `body` as JSON.
    pub async fn signed_json<R: DeserializeOwned>(
        &self,
        session: &Session,
        method: Method,
        path_and_query: &str,
        body: &impl Serialize,
    ) -> Result<R, SyncError> {
        let body = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        self.signed(session, method, path_and_query, Some(body))
            .await
    }

    /// PUTs bytes to a presigned URL; returns the part's ETag (if the store sent one).
    pub async fn put_presigned(&self, url: &str, bytes: Vec<u8>) -> Result<String, SyncError> {
        let resp = self
            .http
            .put(url)
            .header("content-length", bytes.len().to_string())
            .body(bytes)
            .send()
            .await
            .map_err(offline)?;
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(resp.headers());
            return Err(status_error(
                status,
                after,
                resp.text().await.unwrap_or_default(),
            ));
        }
        Ok(resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string())
    }

    /// GETs a presigned URL.
    pub async fn get_presigned(&self, url: &str) -> Result<Vec<u8>, SyncError> {
        let resp = self.http.get(url).send().await.map_err(offline)?;
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(resp.headers());
            return Err(status_error(
                status,
                after,
                resp.text().await.unwrap_or_default(),
            ));
        }
        Ok(resp.bytes().await.map_err(offline)?.to_vec())
    }
}

fn status_error(status: StatusCode, retry_after_seconds: u64, body: String) -> SyncError {
    let (code, message, wipe) = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(e) => (e.error.code, e.error.message, e.wipe),
        Err(_) => (ErrorCode::Unknown, body.chars().take(200).collect(), None),
    };
    if let (StatusCode::GONE, Some(w)) = (status, wipe) {
        return SyncError::WipeRequired(Box::new(w));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        SyncError::RateLimited {
            retry_after_seconds,
            message,
        }
    } else if status.is_server_error() {
        SyncError::Offline(format!("{status}: {message}"))
    } else if code == ErrorCode::ReplayedRequest {
        // The network delivered this request twice and the copy won: the API is idempotent,
        // so sending it again (with a fresh nonce) is safe.
        SyncError::Offline(format!("duplicated in transit: {message}"))
    } else if status == StatusCode::UNAUTHORIZED {
        SyncError::Unauthenticated(message)
    } else {
        SyncError::Refused {
            status: status.as_u16(),
            code: code.as_str().to_string(),
            message,
        }
    }
}

async fn read_json<R: DeserializeOwned>(resp: reqwest::Response) -> Result<R, SyncError> {
    let status = resp.status();
    let after = retry_after(resp.headers());
    let bytes = resp.bytes().await.map_err(offline)?;
    if !status.is_success() {
        return Err(status_error(
            status,
            after,
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(e.to_string()))
}
