//! The HTTP API: one axum [`Router`] built by [`router`], served by `axum::serve` locally and by
//! `lambda_http` on AWS. Handlers only translate HTTP: an extractor authenticates
//! ([`auth`]), the handler parses the body, calls one rule of [`crate::domain`] and responds.
//! The route table is `table.rs`.
//!
//! Every error leaves as JSON (see [`crate::error`]); unknown routes and wrong methods too.
//! Request bodies are taken as raw bytes and parsed by hand so a malformed body is a 400 JSON
//! error, never a plain-text rejection or a panic.

pub mod auth;
pub mod console;
pub mod devices;
pub mod erasure;
pub mod export;
pub mod identity;
pub mod keys;
pub mod lifecycle;
pub mod meta;
pub mod openapi;
pub mod photos;
pub mod reports;
pub mod sync;
mod table;
pub mod teams;
pub mod users;

pub use table::routes;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use ward_proto::TenantId;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::store::Stores;

pub use ward_proto::api::MAX_BODY_BYTES;

pub use crate::domain::{Clock, system_clock};

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
    throttle: Arc<crate::domain::throttle::Throttle>,
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
            throttle: Arc::default(),
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

    /// What the domain rules run against: the ports, the clock, the configuration.
    pub fn env(&self) -> crate::domain::Env<'_> {
        crate::domain::Env {
            stores: &self.stores,
            clock: &self.clock,
            config: &self.config,
        }
    }

    /// Draws one unauthenticated ceremony attempt from its budgets
    /// ([`crate::domain::throttle`]), or refuses with `429` and `Retry-After`.
    pub async fn throttle(
        &self,
        tenant: TenantId,
        attempt: crate::domain::throttle::Attempt<'_>,
        source: &SourceAddr,
    ) -> ApiResult<()> {
        let budgets = crate::domain::throttle::ceremony_budgets(
            self.env(),
            tenant,
            attempt,
            source.0.as_deref(),
        )
        .await?;
        Ok(self.throttle.take(&budgets, self.now())?)
    }
}

/// The caller's network address, when the transport knows it: the TCP peer for `ward-server`
/// (served with connect info), API Gateway's `sourceIp` on Lambda. Never a client-supplied
/// header such as `X-Forwarded-For`, which anyone can set.
#[derive(Debug, Clone, Default)]
pub struct SourceAddr(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SourceAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Some(axum::extract::ConnectInfo(addr)) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            return Ok(SourceAddr(Some(addr.ip().to_string())));
        }
        use lambda_http::request::RequestContext;
        let ip = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
            _ => None,
        };
        Ok(SourceAddr(ip))
    }
}

/// Parses a JSON body, mapping every failure to a 400/413 JSON error.
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body_bytes(body)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidJson, format!("request body: {e}")))
}

/// The raw body, mapping extractor failures (too large, unreadable) to JSON errors.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                ErrorCode::BodyTooLarge,
                format!("request body over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request(ErrorCode::BadBody, e.body_text())
        }
    })
}

/// Parses a path segment as an id, or 404s (an unparseable id names nothing).
pub fn path_id<T: std::str::FromStr>(s: &str, what: &str) -> ApiResult<T> {
    s.parse()
        .map_err(|_| ApiError::not_found(format!("no such {what}")))
}

/// The OpenAPI document of [`routes`].
pub fn openapi_document() -> serde_json::Value {
    let docs: Vec<openapi::Doc> = routes().into_iter().map(|(d, _)| d).collect();
    openapi::document(&docs)
}

pub(crate) async fn openapi_json() -> axum::Json<serde_json::Value> {
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
        .layer(axum::middleware::from_fn(json_bodies_only))
        // Embedded mode's stand-in for S3 takes whole upload parts.
        .merge(blobs.layer(DefaultBodyLimit::max(photos::PART_SIZE as usize + 1024)))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(run_to_completion))
}

/// Every API body is JSON: a request that sends one (`POST`/`PUT` with a non-empty body) must
/// say `Content-Type: application/json` (parameters such as `charset` allowed), or it is
/// refused with `415 unsupported_media_type` before any handler runs. Presigned blob uploads
/// are routed apart and not affected.
async fn json_bodies_only(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let headers = req.headers();
    // No body: `Content-Length: 0`, or neither Content-Length nor Transfer-Encoding and a body
    // known to be empty. On Lambda the body is `lambda_http::Body`, whose size is not known up
    // front even when empty: without a Content-Type it counts as empty (every GET and every
    // body-less POST was refused 415 there); a body that names a type is still checked.
    let framed = headers.get(CONTENT_LENGTH).is_some()
        || headers.get(axum::http::header::TRANSFER_ENCODING).is_some();
    let empty = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
        || (!framed
            && match axum::body::HttpBody::size_hint(req.body()).exact() {
                Some(n) => n == 0,
                None => headers.get(CONTENT_TYPE).is_none(),
            });
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if empty || json {
        return next.run(req).await;
    }
    axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "request bodies must be JSON (Content-Type: application/json)",
    ))
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
