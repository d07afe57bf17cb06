//! Executing a remote wipe: the phone's side of revocation.
//!
//! The backend answers a revoked device with a signed wipe command. [`execute`] trusts it
//! only if it verifies under the wipe key the device pinned at enrollment and names this
//! tenant and device — a forged, unsigned, altered or replayed-from-another-device command is
//! refused and the vault stays intact. When the command asks for a rescue (the clinic's policy,
//! default on), the unsynced record versions go to the backend's quarantine first; if that
//! upload cannot finish (no signal), nothing is shredded and the next contact tries again, so
//! no note is lost to a wipe. Then the vault is crypto-shredded (platform key first) and a
//! receipt signed with the device key is sent; the key lives only in memory by then.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ward_proto::api::{MAX_PUSH_OBJECTS, PushResult, PushStatus};
use ward_proto::wipe::{SignedReceipt, SignedWipe, WipeReceipt};

use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::meta::PINNED_WIPE_KEY;
use super::push::{PUSH_BATCH_BYTES, push_request};
pub use super::report::WipeOutcome;
use super::retry::retry;
use crate::error::CoreError;
use crate::vault::Vault;

fn refuse(why: impl std::fmt::Display) -> ClientError {
    tracing::warn!(%why, "wipe command refused");
    ClientError::Sync(SyncError::Protocol(format!("wipe command refused: {why}")))
}

/// Verifies `signed` and, if genuine, rescues, shreds and reports. Errors before the shred
/// leave the vault as it was.
pub async fn execute(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
    signed: &SignedWipe,
) -> Result<WipeOutcome, ClientError> {
    let pinned: [u8; 32] = vault
        .sync_meta(PINNED_WIPE_KEY)?
        .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| refuse("no wipe key was pinned at enrollment"))?;
    let command = signed
        .verify(&pinned, vault.identity().tenant, session.device_id)
        .map_err(refuse)?;
    tracing::warn!(command = %command.command_id, "executing remote wipe");

    let mut rescued = 0u32;
    if command.rescue {
        rescued = rescue(vault, api, session).await?;
    }
    let unrescued_photos =
        u32::try_from(vault.with_unlocked(|ctx| ctx.pending_photos())?.len()).unwrap_or(u32::MAX);
    let receipt = SignedReceipt::sign(
        &session.key,
        &WipeReceipt {
            version: 1,
            tenant: command.tenant,
            device: command.device,
            command_id: command.command_id.clone(),
            wiped_at_ms: vault.now_ms(),
            rescued_versions: rescued,
            unrescued_photos,
        },
    )
    .map_err(refuse)?;

    vault.wipe()?;

    let path = api.path("/wipe/receipt");
    let sent: Result<serde_json::Value, SyncError> =
        retry(|| api.signed_json(session, Method::POST, &path, &receipt)).await;
    if let Err(e) = &sent {
        tracing::warn!(error = %e, "wipe receipt not delivered; the vault is shredded regardless");
    }
    Ok(WipeOutcome {
        rescued,
        unrescued_photos,
        receipt_sent: sent.is_ok(),
    })
}

/// Uploads every unsynced record version to quarantine; returns how many the backend holds.
async fn rescue(vault: &Vault, api: &ApiClient, session: &Session) -> Result<u32, ClientError> {
    let path = api.path("/wipe/quarantine");
    let mut rescued = 0u32;
    loop {
        let batch = vault.with_unlocked(|ctx| ctx.outbox(MAX_PUSH_OBJECTS, PUSH_BATCH_BYTES))?;
        if batch.is_empty() {
            return Ok(rescued);
        }
        let body = serde_json::to_vec(&push_request(&batch)).map_err(CoreError::from)?;
        let results: Vec<PushResult> =
            retry(|| api.signed(session, Method::POST, &path, Some(body.clone()))).await?;
        if results.len() != batch.len() {
            return Err(
                SyncError::Protocol("rescue answered the wrong number of results".into()).into(),
            );
        }
        let (mut held, mut refused) = (Vec::new(), Vec::new());
        for r in &results {
            match r.status {
                PushStatus::Created | PushStatus::Duplicate => {
                    held.push((r.object_id, r.version_id));
                }
                PushStatus::Conflict | PushStatus::Rejected => {
                    tracing::warn!(object = %r.object_id, reason = ?r.reason,
                        "quarantine refused a version");
                    refused.push((r.object_id, r.version_id));
                }
            }
        }
        rescued += u32::try_from(held.len()).unwrap_or(u32::MAX);
        vault.with_unlocked(|ctx| {
            ctx.mark_synced(&held)?;
            ctx.mark_refused(&refused)
        })?;
    }
}
