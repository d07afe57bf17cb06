//! Errors: a detailed internal [`CoreError`] and the small [`WardError`] the apps see.
//!
//! Inside the core every failure keeps its cause (`#[from]` conversions, thiserror). At the FFI
//! boundary it is folded into the few cases an app can act on: unlock, re-authenticate, fix the
//! input, tell the user a policy forbids it, show one damaged record as damaged, retry storage,
//! or report a bug. Messages name the object involved but never carry clinical content.

use ward_proto::EnvelopeError;

use crate::capture::jpeg::JpegError;
use crate::keystore::KeyStoreError;

/// Internal error of the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The vault is locked (explicitly or by idle timeout).
    #[error("the vault is locked")]
    Locked,
    /// The vault has been wiped.
    #[error("the vault has been wiped")]
    Wiped,
    /// The key canary failed: the key store returned a key that is not this vault's.
    #[error("the vault key is wrong or was replaced (key canary failed)")]
    WrongKey,
    /// The platform key store failed.
    #[error("platform key store: {0}")]
    KeyStore(#[from] KeyStoreError),
    /// No such object.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of thing looked up.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// Input rejected.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A rule of the clinical record or a tenant policy forbids the action.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A stored record failed to decrypt or parse; other records are unaffected.
    #[error("record {object} is damaged: {reason}")]
    Corrupt {
        /// The damaged object (and version) id.
        object: String,
        /// What failed.
        reason: String,
    },
    /// An envelope failed while sealing.
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// SQLite failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// File I/O failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// Serialising a record failed.
    #[error("record encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// An image could not be processed.
    #[error("image: {0}")]
    Image(#[from] JpegError),
    /// The OS random generator failed.
    #[error("random number generator failed")]
    Random,
}

impl From<ward_proto::keys::RandomError> for CoreError {
    fn from(_: ward_proto::keys::RandomError) -> Self {
        CoreError::Random
    }
}

impl From<ward_proto::stream::StreamError> for CoreError {
    fn from(e: ward_proto::stream::StreamError) -> Self {
        CoreError::Envelope(e.into())
    }
}

impl CoreError {
    /// A damaged-record error for `object`.
    pub fn corrupt(object: impl std::fmt::Display, reason: impl std::fmt::Display) -> Self {
        CoreError::Corrupt {
            object: object.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Result alias inside the core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

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
