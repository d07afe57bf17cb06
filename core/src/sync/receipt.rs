//! The signed wipe receipt, kept **outside** the vault until the server has it.
//!
//! The receipt is written to a small file beside the vault folder (atomically, mode 0600)
//! before the vault is shredded, and sent after; if that send is lost, every later start
//! sends it again ([`retry_pending`]) and deletes the file once the server has it. The
//! receipt is not sensitive (ids, counts, a signature by the device key) and proves itself, so
//! it goes to the public `POST wipe/receipts` without a session: the file holds the receipt and
//! where to send it, and **no secret** (no session token, no signing key) outlives the shred.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ward_proto::wipe::SignedReceipt;
use ward_proto::{DeviceId, TenantId};
use zeroize::Zeroizing;

use super::client::{ApiClient, Session};
use super::error::SyncError;
use super::retry::retry;
use crate::clock::SystemClock;
use crate::error::CoreError;

/// A receipt waiting for delivery, with what sending it needs.
#[derive(Serialize, Deserialize)]
pub struct PendingReceipt {
    /// The server.
    pub server: String,
    /// The clinic.
    pub tenant: TenantId,
    /// The wiped device.
    pub device_id: DeviceId,
    /// The signed receipt.
    pub receipt: SignedReceipt,
}

impl std::fmt::Debug for PendingReceipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingReceipt")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl PendingReceipt {
    /// A pending receipt for `receipt` of `session`'s device, to be sent to `api`.
    pub fn new(api: &ApiClient, session: &Session, receipt: SignedReceipt) -> Self {
        Self {
            server: api.base().to_string(),
            tenant: api.tenant(),
            device_id: session.device_id,
            receipt,
        }
    }
}

/// The receipt file of the vault in `vault_dir`: `<vault folder>.wipe-receipt.json`, beside it.
pub fn path_for(vault_dir: &Path) -> PathBuf {
    let name = vault_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    vault_dir.with_file_name(format!("{name}.wipe-receipt.json"))
}

/// Writes the pending receipt atomically (temp file, fsync, rename), readable by the owner only.
pub fn store(vault_dir: &Path, pending: &PendingReceipt) -> Result<(), CoreError> {
    let path = path_for(vault_dir);
    let tmp = path.with_extension("json.tmp");
    let bytes = Zeroizing::new(serde_json::to_vec(pending)?);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    if let Some(parent) = path.parent() {
        let _ = crate::vault::blobs::sync_dir(parent);
    }
    Ok(())
}

fn load(path: &Path) -> Result<Option<PendingReceipt>, CoreError> {
    match std::fs::read(path) {
        Ok(b) => {
            let b = Zeroizing::new(b);
            Ok(Some(serde_json::from_slice(&b)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sends a pending receipt; the file is deleted once the server has it (or says it needs it
/// no more). Ok(true): delivered (or nothing was pending); Ok(false): still pending.
pub async fn send(vault_dir: &Path, api: Option<&ApiClient>) -> Result<bool, CoreError> {
    let path = path_for(vault_dir);
    let Some(p) = load(&path)? else {
        return Ok(true);
    };
    let api = match api {
        Some(a) => a.clone(),
        None => ApiClient::new(&p.server, p.tenant, Arc::new(SystemClock))
            .map_err(|e| CoreError::Invalid(e.to_string()))?,
    };
    let rest = api.path("/wipe/receipts");
    let sent: Result<serde_json::Value, SyncError> =
        retry(|| api.post_public(&rest, &p.receipt)).await;
    match sent {
        Ok(_) => {}
        // The server already holds a receipt (a lost answer to a delivered one) or refuses
        // this one for good: sending it again will not change the answer.
        Err(e @ SyncError::Refused { .. }) => {
            tracing::warn!(error = %e, "the server does not take this wipe receipt; dropped");
        }
        Err(e) => {
            tracing::warn!(error = %e, "wipe receipt not delivered; retried at the next start");
            return Ok(false);
        }
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!("wipe receipt delivered");
    Ok(true)
}

/// Whether a receipt for the vault in `vault_dir` waits for delivery.
pub fn is_pending(vault_dir: &Path) -> bool {
    path_for(vault_dir).exists()
}
