//! Executing a remote wipe: the phone's side of revocation.
//!
//! The backend answers a revoked device with a signed wipe command. [`execute`] trusts it
//! only if it verifies under the wipe key the device pinned at enrollment and names this
//! tenant and device — a forged, unsigned, altered or replayed-from-another-device command is
//! refused and the vault stays intact. A verified command is **persisted first** (the vault's
//! pending wipe): from then on no record is shown or changed, at this start and every later
//! one, until the wipe finishes ([`resume`] at the next contact or start, even offline).
//!
//! When the command asks for a rescue (the clinic's policy, default on), the unsynced record
//! versions go to the backend's quarantine first; if that upload cannot finish (no signal),
//! nothing is shredded and the next contact tries again, so no note is lost to a wipe —
//! unless the offline lease has run out, which shreds without the rescue. Then a receipt
//! signed with the device key is written beside the vault ([`super::receipt`]), the vault is
//! crypto-shredded (platform key first), and the receipt is sent (again at every later start
//! until the server has it).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ward_proto::api::{MAX_PUSH_OBJECTS, PushResult, PushStatus};
use ward_proto::wipe::{SignedReceipt, SignedWipe, WipeCommand, WipeReceipt};

use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::meta::PINNED_WIPE_KEY;
use super::push::{PUSH_BATCH_BYTES, push_request};
use super::receipt::{self, PendingReceipt};
pub use super::report::WipeOutcome;
use super::retry::retry;
use crate::error::CoreError;
use crate::vault::Vault;

fn refuse(why: impl std::fmt::Display) -> ClientError {
    tracing::warn!(%why, "wipe command refused");
    ClientError::Sync(SyncError::Protocol(format!("wipe command refused: {why}")))
}

fn verify(vault: &Vault, signed: &SignedWipe) -> Result<WipeCommand, ClientError> {
    let pinned: [u8; 32] = vault
        .sync_meta(PINNED_WIPE_KEY)?
        .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| refuse("no wipe key was pinned at enrollment"))?;
    let ident = vault.identity();
    signed
        .verify(&pinned, ident.tenant, ident.device)
        .map_err(refuse)
}

/// Verifies `signed` and, if genuine, persists it as the pending wipe, then rescues, shreds
/// and reports. An error after the verification leaves the wipe pending (no record shown).
pub async fn execute(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
    signed: &SignedWipe,
) -> Result<WipeOutcome, ClientError> {
    let command = verify(vault, signed)?;
    tracing::warn!(command = %command.command_id, "executing remote wipe");
    // A signed timestamp: the lease can never be judged earlier than this again.
    vault.observe_time(command.issued_at_ms)?;
    if vault.wipe_pending()?.is_none() {
        vault.set_wipe_pending(&serde_json::to_vec(signed).map_err(CoreError::from)?)?;
    }
    finish(vault, Some((api, session)), &command, false).await
}

/// The pending wipe command, if one was verified and has not finished (verified again).
pub fn pending(vault: &Vault) -> Result<Option<(SignedWipe, WipeCommand)>, ClientError> {
    let Some(bytes) = vault.wipe_pending()? else {
        return Ok(None);
    };
    let signed: SignedWipe = serde_json::from_slice(&bytes).map_err(CoreError::from)?;
    let command = verify(vault, &signed)?;
    Ok(Some((signed, command)))
}

/// Finishes a pending wipe: with `net` (online, unlocked) it rescues first; `force` (the
/// offline lease ran out) shreds even when the rescue cannot be done. Returns `None` when
/// nothing was pending; an error leaves the wipe pending for the next try.
pub async fn resume(
    vault: &Vault,
    net: Option<(&ApiClient, &Session)>,
    force: bool,
) -> Result<Option<WipeOutcome>, ClientError> {
    let Some((_, command)) = pending(vault)? else {
        return Ok(None);
    };
    finish(vault, net, &command, force).await.map(Some)
}

async fn finish(
    vault: &Vault,
    net: Option<(&ApiClient, &Session)>,
    command: &WipeCommand,
    force: bool,
) -> Result<WipeOutcome, ClientError> {
    let mut rescued = 0u32;
    if command.rescue {
        let attempt = match net {
            Some((api, session)) => rescue(vault, api, session).await,
            None => Err(SyncError::Offline("no connection to rescue with".into()).into()),
        };
        match attempt {
            Ok(n) => rescued = n,
            Err(e) if force => {
                tracing::warn!(error = %e, "offline lease ran out: wiping without the rescue");
            }
            Err(e) => return Err(e),
        }
    }
    let unrescued_photos = u32::try_from(vault.unsynced()?.photos).unwrap_or(u32::MAX);
    let pending_receipt = match net {
        Some((api, session)) => {
            let signed = SignedReceipt::sign(
                &session.key,
                &WipeReceipt {
                    version: 1,
                    tenant: command.tenant,
                    device: command.device,
                    command_id: command.command_id.clone(),
                    wiped_at_ms: vault.trusted_now_ms()?,
                    rescued_versions: rescued,
                    unrescued_photos,
                },
            )
            .map_err(refuse)?;
            let p = PendingReceipt::new(api, session, signed);
            // Outside the vault, before the shred: a lost send is retried at every later start.
            receipt::store(vault.dir(), &p)?;
            Some(api)
        }
        None => {
            tracing::warn!("no device key at hand (locked): wiping without a receipt");
            None
        }
    };

    vault.wipe()?;

    let receipt_sent = match pending_receipt {
        Some(api) => receipt::send(vault.dir(), Some(api)).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "wipe receipt not delivered; the vault is shredded regardless");
            false
        }),
        None => false,
    };
    Ok(WipeOutcome {
        rescued,
        unrescued_photos,
        receipt_sent,
    })
}

/// Uploads every unsynced record version to quarantine; returns how many the backend holds.
async fn rescue(vault: &Vault, api: &ApiClient, session: &Session) -> Result<u32, ClientError> {
    // The keys first: what a client created here and never synced is sealed under exists
    // nowhere else.
    super::keys::register_for_rescue(vault, api, session).await?;
    let path = api.path("/wipe/quarantine");
    let mut rescued = 0u32;
    loop {
        let batch =
            vault.with_unlocked_for_wipe(|ctx| ctx.outbox(MAX_PUSH_OBJECTS, PUSH_BATCH_BYTES))?;
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
        vault.with_unlocked_for_wipe(|ctx| {
            ctx.mark_synced(&held)?;
            ctx.mark_refused(&refused)
        })?;
    }
}
