//! Backup and restore of one tenant, and the drill that proves a backup restores.
//!
//! [`export`] writes everything a tenant needs to come back into an encrypted, authenticated
//! archive ([`archive`]): the tenant record (name, epoch, policy, wipe-key public half), every
//! tenant-key epoch and the wipe-key seed (unwrapped from the store's KEK and re-sealed under
//! the operator's archive key), users, passkeys, devices (with their wipe state), care teams,
//! every object version in change-feed order (envelopes exactly as stored), the completed photo
//! uploads and their blobs (envelopes, ciphertext), the quarantine, the audit log in order and
//! each device's accepted audit-chain links, and a [`Manifest`]: counts, the SHA-256 of every
//! envelope and blob, key check values, and a SHA-256 over the whole record stream.
//!
//! Sessions, request nonces, WebAuthn ceremonies, invites and unfinished photo uploads are
//! transient and left out: after a restore, people log in again, pending invites are re-issued
//! and devices restart an unfinished upload.
//!
//! Envelopes are bound by their AAD to the tenant id, so [`restore`] recreates the **same
//! tenant id** in a store that does not have it (a fresh deployment or region after a
//! disaster, or a wiped store): it refuses a target that already holds that tenant. The tenant
//! gets a new KEK in the target store and its keys are wrapped under it
//! ([`KeyVault::wrap_tenant_key`](crate::store::KeyVault::wrap_tenant_key)). Object versions
//! keep their ids, kinds, parents, client ids, device ids, stored SHA-256 and receive times; the
//! feed order is preserved but `seq` is renumbered by the target store (devices resync from
//! zero after a restore anyway). Restore reads the archive twice: first to authenticate every
//! frame and check the manifest (a tampered, truncated or reordered archive, or a wrong key,
//! writes nothing), then to write. It ends by reading the target back ([`inventory`]) and
//! comparing it with the manifest ([`compare`]): that report is the drill's result.
//!
//! No clinical plaintext exists at any point: envelopes and photo blobs are copied as
//! ciphertext; the only secrets handled in clear are tenant keys and the wipe seed, in
//! zeroizing memory, between unwrapping and re-sealing.

pub mod archive;
pub mod cli;
mod drill;
mod erased;
mod export;
mod manifest;
mod record;
mod report;
mod restore;
mod sealing;
mod walk;

pub use archive::{ArchiveKey, Header};
pub use drill::{DrillReport, drill};
pub use export::{ExportReport, export};
pub use manifest::{BlobFacts, Digest, Inventory, Manifest, ObjectFacts};
pub(crate) use report::kind_name;
pub use report::{Count, Report, compare, verify};
pub use restore::{RestoreReport, archive_ledger, check_archive, restore, restore_erasing};
pub use walk::inventory;
use ward_proto::TenantId;

use crate::error::StoreError;

/// Audit action recorded in the source store when a tenant is exported (it is in the archive).
pub const EXPORT_ACTION: &str = "backup.export";
/// Audit action recorded in the target store after a restore. Entries with it are left out of
/// the comparison, since a restore adds one that its source never had.
pub const RESTORE_ACTION: &str = "backup.restore";
/// Objects per batch when reading the feed or writing it back.
const BATCH: u32 = 500;

/// Errors of backup and restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A storage call failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Reading or writing the archive failed.
    #[error("archive I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a Ward backup archive (or of an unknown format version).
    #[error("not a Ward backup archive (bad magic or format version)")]
    NotAnArchive,
    /// The archive key does not match the archive.
    #[error("wrong archive key: this archive was written under another key")]
    WrongKey,
    /// A frame failed authentication.
    #[error(
        "archive failed authentication at frame {frame}: it was tampered with, reordered or damaged"
    )]
    Auth {
        /// The first frame that failed.
        frame: u64,
    },
    /// The archive ends before its final frame.
    #[error("archive is truncated: its final frame is missing")]
    Truncated,
    /// Bytes follow the final frame.
    #[error("archive has data after its final frame")]
    TrailingData,
    /// The authenticated content is not a valid record stream.
    #[error("archive is malformed: {0}")]
    Malformed(String),
    /// The authenticated content does not match its own manifest.
    #[error("archive content does not match its manifest: {0}")]
    Manifest(String),
    /// The tenant to export does not exist.
    #[error("no tenant {0} in the source store")]
    NoSuchTenant(TenantId),
    /// The restore target already holds data of the tenant.
    #[error(
        "the target store already holds tenant {0}: restore only into a store without that tenant"
    )]
    TargetNotEmpty(TenantId),
    /// The archive key file is unusable.
    #[error("archive key: {0}")]
    Key(String),
    /// A cryptographic primitive failed (RNG, key setup).
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<serde_json::Error> for BackupError {
    fn from(e: serde_json::Error) -> Self {
        BackupError::Malformed(e.to_string())
    }
}

/// Result of backup operations.
pub type BackupResult<T> = Result<T, BackupError>;
