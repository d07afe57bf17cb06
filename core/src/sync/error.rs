//! The errors of sync and identity calls, shared by every sync module (a leaf: it imports
//! nothing from them but the passkey error and the wipe outcome it carries).
//!
//! [`SyncError`] sorts a failed backend call by what the caller can do about it;
//! [`ClientError`] adds the vault's and the authenticator's failures and the one outcome that
//! ends every call: the device was revoked and has wiped itself. The FFI folds both into
//! `WardError` (`crate::ffi::error`).

use super::passkey::PasskeyError;
use super::report::WipeOutcome;
use crate::error::CoreError;

/// Why a call to the backend failed, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Network down, timeout, or a server-side failure (5xx): retry later.
    #[error("backend unreachable or busy: {0}")]
    Offline(String),
    /// The server is rate-limiting this caller (429): wait `retry_after_seconds` (its
    /// `Retry-After`, or [`super::client::DEFAULT_RETRY_AFTER_SECONDS`]) before trying again.
    #[error("too many requests: retry in {retry_after_seconds} s ({message})")]
    RateLimited {
        /// How long to wait.
        retry_after_seconds: u64,
        /// The server's message.
        message: String,
    },
    /// The session is missing, expired or revoked: log in with the passkey again.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// The backend refused the request (4xx other than 401); retrying will not help.
    #[error("refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
    },
    /// The response could not be understood.
    #[error("unexpected response: {0}")]
    Protocol(String),
    /// The sync was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// An admin revoked this device: the backend sent a signed wipe command (verified and
    /// executed by `super::wipe`, never trusted as is).
    #[error("this device was revoked and must be wiped")]
    WipeRequired(Box<ward_proto::wipe::SignedWipe>),
}

impl SyncError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Offline(_))
    }
}

/// Errors of identity and sync calls.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The backend call failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The vault failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The authenticator failed.
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    /// An admin revoked this device and it executed the signed wipe: the vault is gone.
    #[error("this device was revoked and has been wiped ({} records rescued)", .0.rescued)]
    Wiped(WipeOutcome),
}
