//! The HTTP API: one axum [`Router`] built by [`router`], served by `axum::serve` locally and by
//! `lambda_http` on AWS. Handlers only translate HTTP; rules live in the submodules' functions
//! over the storage ports.
//!
//! Every error leaves as JSON (see [`crate::error`]); unknown routes and wrong methods too.
//! Request bodies are taken as raw bytes and parsed by hand so a malformed body is a 400 JSON
//! error, never a plain-text rejection or a panic.

pub mod auth;
pub mod devices;
pub mod identity;
pub mod keys;
pub mod meta;
pub mod photos;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::Stores;

/// Largest request body: under Lambda's 6 MB payload limit with room for base64 overhead.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

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

/// The whole API.
pub fn router(state: AppState) -> Router {
    let t = "/v1/tenants/{tenant}";
    Router::new()
        .route("/healthz", get(meta::healthz))
        .route(
            "/.well-known/apple-app-site-association",
            get(meta::apple_app_site_association),
        )
        .route("/.well-known/assetlinks.json", get(meta::assetlinks))
        .route(&format!("{t}/enroll/start"), post(identity::enroll_start))
        .route(&format!("{t}/enroll/finish"), post(identity::enroll_finish))
        .route(&format!("{t}/login/start"), post(identity::login_start))
        .route(&format!("{t}/login/finish"), post(identity::login_finish))
        .route(&format!("{t}/step-up/start"), post(identity::step_up_start))
        .route(
            &format!("{t}/step-up/finish"),
            post(identity::step_up_finish),
        )
        .route(&format!("{t}/me"), get(identity::me))
        .route(&format!("{t}/invites"), post(identity::create_invite))
        .route(&format!("{t}/devices"), get(devices::list))
        .route(
            &format!("{t}/devices/{{device}}/approve"),
            post(devices::approve),
        )
        .route(
            &format!("{t}/devices/{{device}}/revoke"),
            post(devices::revoke),
        )
        .route(&format!("{t}/keys/release"), post(keys::release))
        .route(&format!("{t}/objects/push"), post(sync::push))
        .route(&format!("{t}/objects/pull"), get(sync::pull))
        .route(&format!("{t}/uploads/start"), post(photos::start))
        .route(&format!("{t}/uploads/complete"), post(photos::complete))
        .route(&format!("{t}/downloads"), post(photos::download))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Embedded mode's stand-in for S3: takes whole upload parts.
        .merge(
            Router::new()
                .route(
                    "/blobs/{*path}",
                    get(photos::local_get).put(photos::local_put),
                )
                .layer(DefaultBodyLimit::max(photos::PART_SIZE as usize + 1024)),
        )
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state)
}
