//! API errors: every failure leaves as JSON `{"error": {"code", "message"}}` with a stable code
//! and a 4xx status when the caller can act on it. Internal failures are logged with detail and
//! answered with a generic 500 that leaks nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
pub use ward_proto::errors::ErrorCode;

/// Errors from the storage ports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost (already exists / changed).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The adapter failed.
    #[error("storage backend: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// An error answered to an API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message (no secrets, no clinical content).
    pub message: String,
    /// The signed wipe command answered to a revoked device (`410 wipe_required`).
    pub wipe: Option<Box<ward_proto::wipe::SignedWipe>>,
    /// Seconds to wait, sent as `Retry-After` (`429 rate_limited`).
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wipe: Option<&'a ward_proto::wipe::SignedWipe>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            wipe: None,
            retry_after_s: None,
        }
    }

    /// 410: this device was revoked; it must execute the enclosed signed wipe command.
    pub fn wipe_required(signed: ward_proto::wipe::SignedWipe) -> Self {
        Self {
            wipe: Some(Box::new(signed)),
            ..Self::new(
                StatusCode::GONE,
                ErrorCode::WipeRequired,
                "this device was revoked by a clinic admin and must be wiped",
            )
        }
    }
    /// 400.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401: not authenticated (missing, expired or revoked session; bad signature).
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            message,
        )
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }
    /// 409.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 429 with `Retry-After: retry_after_s`.
    pub fn rate_limited(retry_after_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!("too many attempts; retry in {retry_after_s} s"),
            )
        }
    }
    /// 500, logging the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::conflict(ErrorCode::Conflict, m),
            StoreError::Backend(m) => ApiError::internal(m),
        }
    }
}

/// The one mapping from a rule's refusal to what the caller sees.
impl From<crate::domain::DomainError> for ApiError {
    fn from(e: crate::domain::DomainError) -> Self {
        use crate::domain::DomainError as D;
        match e {
            D::NotFound(m) => ApiError::not_found(m),
            D::Forbidden(m) => ApiError::forbidden(m),
            D::Missing { code, message } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            D::Refused { code, message } => ApiError::new(StatusCode::FORBIDDEN, code, message),
            D::Unauthenticated { code, message } => {
                ApiError::new(StatusCode::UNAUTHORIZED, code, message)
            }
            D::Invalid { code, message } => ApiError::bad_request(code, message),
            D::Conflict { code, message } => ApiError::conflict(code, message),
            e @ D::StepUpRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::StepUpRequired,
                e.to_string(),
            ),
            D::WipeRequired(signed) => ApiError::wipe_required(*signed),
            D::RateLimited { retry_after_s } => ApiError::rate_limited(retry_after_s),
            D::Store(e) => e.into(),
            D::Internal(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
            wipe: self.wipe.as_deref(),
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
