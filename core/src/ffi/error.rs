//! The error every exported call returns, [`WardError`], and the whole mapping into it.
//!
//! Inside the core every failure keeps its cause ([`CoreError`], [`ClientError`]). Here it is
//! folded into the few cases an app can act on: unlock, re-authenticate, fix the input, tell
//! the user a policy forbids it, show one damaged record as damaged, retry storage or later,
//! or report a bug. Messages name the object involved but never carry clinical content.

use crate::error::CoreError;
use crate::sync::error::{ClientError, SyncError};

/// The error every exported function returns, by what the app can do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum WardError {
    /// Ask the user to unlock (biometrics), then retry.
    #[error("the vault is locked")]
    Locked,
    /// The key store could not release the key (cancelled, biometrics changed, key gone):
    /// re-authenticate, or re-enroll the device if it persists.
    #[error("key unavailable: {detail}")]
    KeyUnavailable {
        /// What the key store said.
        detail: String,
    },
    /// The key does not belong to this vault: the vault cannot be opened on this device.
    #[error("wrong vault key")]
    WrongKey,
    /// The vault was wiped: start enrollment again.
    #[error("the vault was wiped")]
    Wiped,
    /// An admin revoked this device and the verified wipe command is pending: show no data
    /// (a "this phone is being wiped" screen); the wipe finishes at the next contact or start
    /// (`WardSync.sync` / `enforce_lease`).
    #[error("this device was revoked: its wipe is pending")]
    WipePending,
    /// The object does not exist.
    #[error("{detail}")]
    NotFound {
        /// Which object.
        detail: String,
    },
    /// The input was rejected; show the message and let the user correct it.
    #[error("{detail}")]
    InvalidInput {
        /// Why.
        detail: String,
    },
    /// A clinical-record rule or tenant policy forbids this (e.g. editing a signed note,
    /// capturing without consent).
    #[error("{detail}")]
    NotAllowed {
        /// Which rule.
        detail: String,
    },
    /// This one record is damaged; show it as such, everything else still works.
    #[error("record {object_id} is damaged: {detail}")]
    Corrupt {
        /// The damaged record.
        object_id: String,
        /// What failed.
        detail: String,
    },
    /// Storage failed (disk full, I/O): retry later.
    #[error("storage: {detail}")]
    Storage {
        /// Details.
        detail: String,
    },
    /// The server could not be reached (no signal, timeout, server busy): keep working
    /// offline; the next sync retries.
    #[error("offline: {detail}")]
    Offline {
        /// Details.
        detail: String,
    },
    /// The server is rate-limiting this device or user (HTTP 429): do not retry (and do not
    /// schedule the next background sync) before `retry_after_seconds`; the work stays on the
    /// phone meanwhile.
    #[error("too many requests: try again in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds to wait (the server's `Retry-After`; 60 when it named none).
        retry_after_seconds: u64,
        /// The server's message.
        detail: String,
    },
    /// The session expired or was revoked, or the passkey prompt failed: sign in again with
    /// the passkey.
    #[error("sign-in required: {detail}")]
    SignInRequired {
        /// Details.
        detail: String,
    },
    /// The server refused the request (device not approved or revoked, invite used, not
    /// allowed): show the message; retrying will not help.
    #[error("refused by the server: {detail}")]
    ServerRefused {
        /// Details.
        detail: String,
    },
    /// The call was cancelled by the app.
    #[error("cancelled")]
    Cancelled,
    /// A bug: report it.
    #[error("internal: {detail}")]
    Internal {
        /// Details.
        detail: String,
    },
}

impl From<CoreError> for WardError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Locked => WardError::Locked,
            CoreError::Wiped => WardError::Wiped,
            CoreError::WipePending => WardError::WipePending,
            CoreError::WrongKey => WardError::WrongKey,
            CoreError::KeyStore(k) => WardError::KeyUnavailable {
                detail: k.to_string(),
            },
            e @ CoreError::NotFound { .. } => WardError::NotFound {
                detail: e.to_string(),
            },
            CoreError::Invalid(m) => WardError::InvalidInput { detail: m },
            CoreError::Image(i) => WardError::InvalidInput {
                detail: format!("image: {i}"),
            },
            CoreError::NotAllowed(m) => WardError::NotAllowed { detail: m },
            e @ CoreError::NoClientKey { .. } => WardError::NotAllowed {
                detail: e.to_string(),
            },
            CoreError::Corrupt { object, reason } => WardError::Corrupt {
                object_id: object,
                detail: reason,
            },
            e @ (CoreError::Db(_) | CoreError::Io(_)) => WardError::Storage {
                detail: e.to_string(),
            },
            e @ (CoreError::Envelope(_) | CoreError::Json(_) | CoreError::Random) => {
                WardError::Internal {
                    detail: e.to_string(),
                }
            }
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for WardError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        WardError::Internal { detail: e.reason }
    }
}

impl From<ClientError> for WardError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Core(c) => c.into(),
            ClientError::Passkey(p) => WardError::SignInRequired {
                detail: p.to_string(),
            },
            ClientError::Wiped(_) => WardError::Wiped,
            ClientError::Sync(s) => match s {
                SyncError::Offline(d) => WardError::Offline { detail: d },
                SyncError::RateLimited {
                    retry_after_seconds,
                    message,
                } => WardError::RateLimited {
                    retry_after_seconds,
                    detail: message,
                },
                SyncError::Unauthenticated(d) => WardError::SignInRequired { detail: d },
                SyncError::Cancelled => WardError::Cancelled,
                e @ SyncError::Refused { .. } => WardError::ServerRefused {
                    detail: e.to_string(),
                },
                SyncError::Protocol(d) => WardError::Internal { detail: d },
                // Only reaches here if a call other than sync met it; sync executes it.
                e @ SyncError::WipeRequired(_) => WardError::ServerRefused {
                    detail: e.to_string(),
                },
            },
        }
    }
}
