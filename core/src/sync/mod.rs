//! Sync and identity: how a phone enrolls with a passkey, receives its clinic's keys, and
//! exchanges envelopes with the backend while working offline for days.
//!
//! Leaves first: [`error`] (what a call can fail with), [`report`] (what it did, and the
//! progress seam), [`meta`] (names of the sync bookkeeping entries), [`retry`] (backoff),
//! [`passkey`] (the authenticator seam and the software authenticator the CLI and tests use),
//! [`client`] (the signed HTTP transport), [`push`] (batch sizes, the push request), [`receipt`] (the wipe receipt kept beside the vault). Then
//! [`identity`] (enrollment, login and key delivery), [`wipe`] (executing a remote wipe),
//! [`audit_upload`] and [`device_state`] (lease, unsynced alarm), [`access`] (what a change of
//! "my clients" means: drops, a pull from the start); [`engine`] (push / photo
//! upload / pull / download) sits on top of them. Each module imports only modules listed
//! before it. The vault side (outbox, pulled versions, sealed secrets) is
//! `crate::vault::outbox`; the app-facing `WardSync` is `crate::ffi::sync`.

pub mod error;
pub mod meta;
pub mod passkey;
pub mod report;
pub mod retry;

pub mod client;
pub mod push;
pub mod receipt;

pub mod access;
pub mod audit_upload;
pub mod device_state;
pub mod identity;
pub mod keys;
pub mod wipe;

pub mod engine;

pub use client::{ApiClient, Session};
pub use engine::Engine;
pub use error::{ClientError, SyncError};
pub use passkey::{Authenticator, PasskeyError, SoftwarePasskey};
pub use report::{NoProgress, Progress, SyncReport};

/// Kept for callers of the old paths (`tests/e2e`, the CLI): the app-facing sync objects are
/// defined in [`crate::ffi`], above this module; nothing in `sync` uses them.
pub use crate::ffi::{PasskeyProvider, SyncListener, SyncStatus, SyncSummary, WardSync};
