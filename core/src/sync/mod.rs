//! Sync and identity: how a phone enrolls with a passkey, receives its clinic's keys, and
//! exchanges envelopes with the backend while working offline for days.
//!
//! [`client`] is the signed HTTP client, [`passkey`] the authenticator seam (and the software
//! authenticator the CLI and tests use), [`identity`] enrollment, login and key delivery,
//! [`engine`] push / photo upload / pull / download. The vault side (outbox, pulled versions,
//! sealed secrets) is `crate::vault::outbox`.

pub mod audit_upload;
pub mod client;
pub mod device_state;
pub mod engine;
pub mod ffi;
pub mod identity;
pub mod passkey;
pub mod wipe;

pub use client::{ApiClient, Session, SyncError};
pub use engine::{Engine, NoProgress, Progress, SyncReport};
pub use ffi::{SyncListener, SyncStatus, SyncSummary, WardSync};
pub use identity::ClientError;
pub use passkey::{PasskeyError, PasskeyProvider, SoftwarePasskey};
