//! The core's internal error, [`CoreError`] (a leaf: it imports only the leaf errors it wraps).
//!
//! Inside the core every failure keeps its cause (`#[from]` conversions, thiserror). At the FFI
//! boundary it is folded into the small `WardError` the apps see (`crate::ffi::error`).
//! Messages name the object involved but never carry clinical content.

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
    /// A verified wipe command is pending (persisted before the rescue): no record is shown
    /// or changed until the wipe finishes.
    #[error("this device was revoked: its wipe is pending and no record is shown")]
    WipePending,
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
    /// A client's clinical data cannot be written or read here: this phone holds no key of
    /// that client (the user is not on its care team, or the key has not reached this phone:
    /// the next sync asks for it).
    #[error(
        "this phone holds no key for client {client}: sync, or ask to be added to the care team"
    )]
    NoClientKey {
        /// The client.
        client: ward_proto::ObjectId,
    },
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
