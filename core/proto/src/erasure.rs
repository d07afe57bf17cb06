//! Erasure of one client (GDPR Art. 17): the request an admin sends and the ledger entry the
//! clinic keeps of it (ADR 0016).

use serde::{Deserialize, Serialize};

use crate::ObjectId;

/// Shortest accepted reason, in characters: an erasure is never unexplained.
pub const MIN_ERASURE_REASON_CHARS: usize = 10;

/// `POST clients/{client}/erase`: an admin, with a fresh step-up, erases a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EraseClientRequest {
    /// Why, typed by the admin (the patient's request, a record made in error, …); kept in the
    /// audit log, which keeps no content of the client.
    pub reason: String,
    /// Why the clinic's retention hold is overridden (a second reason), when the client's
    /// records are still inside it; refused as `409 retention_hold` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_override_reason: Option<String>,
}

/// Where an erasure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    /// Recorded: from here on no device may add to the client and every device deletes it at
    /// its next contact; the stored copies are being deleted (a retry of the request finishes).
    Started,
    /// Every stored copy Ward controls is deleted.
    Complete,
}

/// One entry of the clinic's erasure ledger: that a client was erased, when, by whom, and how
/// much went — never what (no name, no content). The ledger outlives the client: backups
/// carry it and a restore re-applies it, devices delete what they hold of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Erasure {
    /// The erased client's id (a random identifier; nothing else of the client remains).
    pub client_id: ObjectId,
    /// The admin who erased.
    pub erased_by: uuid::Uuid,
    /// When the erasure was recorded.
    pub started_at_ms: i64,
    /// When the last stored copy was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<i64>,
    /// Where it stands.
    pub status: ErasureStatus,
    /// Whether the clinic's retention hold was overridden.
    #[serde(default)]
    pub hold_overridden: bool,
    /// Record versions deleted from the live store.
    #[serde(default)]
    pub versions: u64,
    /// Photo blob versions deleted (every S3 version and replica copy).
    #[serde(default)]
    pub blobs: u64,
    /// Client-key generations deleted.
    #[serde(default)]
    pub keys: u64,
}
