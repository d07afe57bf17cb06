//! Upload of the device's hash-chained audit log (DESIGN property 8): events the server has not
//! acknowledged — offline reads included — go to `POST /v1/tenants/{t}/audit/events` in
//! batches of at most `MAX_UPLOAD_EVENTS`, oldest first, each batch a contiguous segment of
//! the chain with its hashes. The server verifies that each segment continues what it already
//! holds and stores every event (flagging gaps and breaks rather than dropping them), so an
//! answered batch is marked synced as a whole. A batch whose answer is lost is simply sent
//! again: the server answers events it already has as duplicates.

use std::time::Duration;

use reqwest::Method;
use ward_proto::audit::{AuditUpload, AuditUploadResult, MAX_UPLOAD_EVENTS, UploadedEvent};

use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::report::SyncReport;
use super::retry::ATTEMPTS;
use crate::error::CoreError;
use crate::vault::Vault;

/// Path of the upload endpoint under the tenant.
pub const AUDIT_EVENTS_PATH: &str = "/audit/events";

/// What one upload run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditUploadReport {
    /// Events sent and acknowledged.
    pub sent: u64,
    /// Events the server flagged (gap, break, …); they are stored there all the same.
    pub flagged: u64,
}

async fn send(
    api: &ApiClient,
    session: &Session,
    report: &mut SyncReport,
    body: &[u8],
) -> Result<AuditUploadResult, SyncError> {
    let mut delay_ms = 200u64;
    let mut attempt = 1;
    loop {
        report.requests += 1;
        let r = api
            .signed(
                session,
                Method::POST,
                &api.path(AUDIT_EVENTS_PATH),
                Some(body.to_vec()),
            )
            .await;
        match r {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!(attempt, error = %e, "retrying audit upload");
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                delay_ms = (delay_ms * 2).min(5_000);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Uploads every unacknowledged audit event of `vault`.
pub async fn upload(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
    report: &mut SyncReport,
) -> Result<AuditUploadReport, ClientError> {
    let mut out = AuditUploadReport::default();
    let batch_size = MAX_UPLOAD_EVENTS as u32;
    loop {
        let batch = vault.unsynced_audit(batch_size)?;
        let Some(last_seq) = batch.last().map(|(e, _)| e.seq) else {
            return Ok(out);
        };
        let request = AuditUpload {
            events: batch
                .iter()
                .map(|(e, h)| UploadedEvent::new(e.clone(), h))
                .collect(),
        };
        let body = serde_json::to_vec(&request).map_err(CoreError::from)?;
        let result = send(api, session, report, &body).await?;
        if !result.flagged.is_empty() {
            tracing::warn!(
                flagged = result.flagged.len(),
                "the server flagged audit events of this device"
            );
        }
        vault.mark_audit_synced(last_seq)?;
        out.sent += batch.len() as u64;
        out.flagged += result.flagged.len() as u64;
        if batch.len() < batch_size as usize {
            return Ok(out);
        }
    }
}
