//! What an audit query asks for and what it answers: the filter, the page with its cursor,
//! the scan bound, and an uploaded device event with the entries stored beside it. Used by
//! the [`super::AuditStore`] port and both adapters.

use ward_proto::{DeviceId, ObjectId};

use crate::model::{AuditEntry, ChainLink};

/// Most stored entries one [`super::AuditStore::query`] call looks at: a narrow filter over a long
/// log answers a short page and a cursor rather than reading the whole log in one request.
pub const MAX_AUDIT_SCAN: usize = 5_000;

/// A filter over the audit log. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries of this device.
    pub device: Option<DeviceId>,
    /// Entries by this actor.
    pub actor: Option<String>,
    /// Entries with this action.
    pub action: Option<String>,
    /// Entries concerning this client.
    pub client: Option<ObjectId>,
    /// `at_ms` at or after.
    pub since_ms: Option<i64>,
    /// `at_ms` before.
    pub until_ms: Option<i64>,
    /// Continue after this cursor (from an earlier page's `next`).
    pub after: Option<String>,
    /// Most entries returned.
    pub limit: u32,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

impl AuditQuery {
    /// Whether `e` passes the filter (cursor and limit aside).
    pub fn matches(&self, e: &AuditEntry) -> bool {
        let r = &e.record;
        self.device.is_none_or(|d| r.device_id == Some(d))
            && self.actor.as_deref().is_none_or(|a| r.actor == a)
            && self.action.as_deref().is_none_or(|a| r.action == a)
            && self.client.is_none_or(|c| e.client == Some(c))
            && self.since_ms.is_none_or(|t| r.at_ms >= t)
            && self.until_ms.is_none_or(|t| r.at_ms < t)
    }
}

/// A page of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// Matching entries with their cursors, in the order asked for.
    pub entries: Vec<(String, AuditEntry)>,
    /// Where to continue (`None`: the log ends here).
    pub next: Option<String>,
}

/// An uploaded device event to store: its chain link and the entries recorded with it (the
/// event itself, and any server "audit.chain_*" entry about it), stored together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// The link (unique per device and seq).
    pub link: ChainLink,
    /// Audit entries stored with it.
    pub entries: Vec<AuditEntry>,
}
