//! The domain error: what a rule refuses, independent of HTTP. `crate::error` maps each variant
//! to a status and an [`ErrorCode`] in one `From` impl.

use ward_proto::errors::ErrorCode;
use ward_proto::wipe::SignedWipe;

use crate::error::StoreError;

/// Why a rule refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// No such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, with a more precise code than `not_found` (`not_a_member`).
    #[error("{message}")]
    Missing {
        /// Which thing.
        code: ErrorCode,
        /// Human message.
        message: String,
    },
    /// The caller may not do this, for a reason with its own code (`break_glass_disabled`).
    #[error("{message}")]
    Refused {
        /// Which rule.
        code: ErrorCode,
        /// Human message.
        message: String,
    },
    /// The caller is not who it claims (no session, bad passkey or ceremony).
    #[error("{message}")]
    Unauthenticated {
        /// `unauthenticated`, `ceremony_invalid`, `passkey_rejected`, `replayed_request`.
        code: ErrorCode,
        /// Human message.
        message: String,
    },
    /// The request is malformed or out of range.
    #[error("{message}")]
    Invalid {
        /// Which rule it broke.
        code: ErrorCode,
        /// Human message.
        message: String,
    },
    /// The state does not allow it (exists, changed, already decided, contended).
    #[error("{message}")]
    Conflict {
        /// Which state.
        code: ErrorCode,
        /// Human message.
        message: String,
    },
    /// A destructive action needs a fresh passkey assertion.
    #[error("confirm with your passkey first (step-up)")]
    StepUpRequired,
    /// This device was revoked and must execute this signed wipe command.
    #[error("this device was revoked by a clinic admin and must be wiped")]
    WipeRequired(Box<SignedWipe>),
    /// Too many attempts: wait this long (answered `429` with `Retry-After`).
    #[error("too many attempts; retry in {retry_after_s} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// A storage port failed or a conditional write lost.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen (logged, answered as a generic 500).
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    /// [`DomainError::Invalid`].
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// [`DomainError::Conflict`].
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// [`DomainError::Unauthenticated`] with code `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated {
            code: ErrorCode::Unauthenticated,
            message: message.into(),
        }
    }

    /// [`DomainError::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// [`DomainError::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// [`DomainError::Internal`].
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// Result of a rule.
pub type DomainResult<T> = Result<T, DomainError>;
