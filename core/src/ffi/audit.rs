//! [`AuditLog`]: the app's read-only view of the device audit log (`crate::vault::audit`).

use std::sync::Arc;

use super::error::WardError;
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// One audit event.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AuditEventView {
    /// Position in the chain.
    pub seq: u64,
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// Device.
    pub device_id: String,
    /// What.
    pub action: String,
    /// Envelope kind number.
    pub kind: Option<u8>,
    /// Object.
    pub object_id: Option<String>,
    /// Client.
    pub client_id: Option<String>,
}

/// The device audit log.
#[derive(Debug, uniffi::Object)]
pub struct AuditLog {
    pub(super) vault: Arc<Vault>,
}

#[uniffi::export]
impl AuditLog {
    /// Events after `after_seq`.
    pub fn events(&self, after_seq: u64, limit: u32) -> R<Vec<AuditEventView>> {
        Ok(self
            .vault
            .audit_events(after_seq, limit)?
            .into_iter()
            .map(|e| AuditEventView {
                seq: e.seq,
                at_ms: e.at_ms,
                actor: e.actor,
                device_id: e.device.to_string(),
                action: e.action,
                kind: e.kind,
                object_id: e.object.map(|o| o.to_string()),
                client_id: e.client.map(|c| c.to_string()),
            })
            .collect())
    }
    /// Verifies the hash chain; returns the event count, or an error naming the break.
    pub fn verify(&self) -> R<u64> {
        self.vault
            .verify_audit_chain()?
            .map_err(|e| WardError::Corrupt {
                object_id: "audit log".into(),
                detail: e.to_string(),
            })
    }
}
