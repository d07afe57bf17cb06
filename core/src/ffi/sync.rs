//! The sync surface the apps call: [`WardSync`], built over an unlocked [`WardVault`], a thin
//! layer over `crate::sync` (identity, engine, device state).
//!
//! Calls block (apps run them on a background dispatcher) on a small tokio runtime the object
//! owns; [`WardSync::cancel`] stops a running sync at its next await, which the engine is
//! built to survive. Progress reaches the app through the [`SyncListener`] foreign trait.

use std::sync::Arc;

use reqwest::Method;
use tokio::sync::Notify;

use super::error::WardError;
use super::listener::{ListenerProgress, SyncListener};
use super::passkey::{PasskeyProvider, Provider};
use super::vault::WardVault;
use crate::clock::SystemClock;
use crate::domain::clients::parse_id;
use crate::error::CoreError;
use crate::sync::client::ApiClient;
use crate::sync::device_state::{self, LeaseState};
use crate::sync::engine::Engine;
use crate::sync::error::{ClientError, SyncError};
use crate::sync::identity;
use crate::sync::meta::LAST_CONTACT_MS;
use crate::sync::report::SyncReport;
use crate::sync::{receipt, wipe};
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// What a sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncSummary {
    /// Versions the server acknowledged.
    pub pushed: u64,
    /// Versions the server refused (kept on the phone).
    pub refused: u64,
    /// Photos uploaded.
    pub photos_uploaded: u64,
    /// Versions received.
    pub pulled: u64,
    /// Of those, versions this build cannot read: kept on the phone (a newer Ward may read
    /// them) and listed by `WardVault.unreadable_records`; tell the user to update.
    pub unreadable: u64,
    /// API requests made.
    pub requests: u64,
    /// Clients removed from this phone because the user may no longer read them (taken off
    /// the care team, or an emergency access ended): "2 clients were removed from this
    /// phone". Work on them not synced yet stays on the phone.
    #[uniffi(default)]
    pub clients_dropped: u64,
}

impl From<SyncReport> for SyncSummary {
    fn from(r: SyncReport) -> Self {
        Self {
            pushed: r.pushed,
            refused: r.refused,
            photos_uploaded: r.photos_uploaded,
            pulled: r.pulled,
            unreadable: r.unreadable,
            requests: r.requests,
            clients_dropped: r.clients_dropped,
        }
    }
}

/// The device's sync state for the status screen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncStatus {
    /// Enrolled with a server.
    pub enrolled: bool,
    /// Role ("admin", "clinician", "front_desk").
    pub role: String,
    /// "pending", "active", "revoked", "wiped" as last seen.
    pub device_status: String,
    /// Last successful contact with the server.
    pub last_contact_ms: Option<i64>,
    /// Unsynced client records.
    pub unsynced_clients: u64,
    /// Unsynced note versions.
    pub unsynced_notes: u64,
    /// Photos not uploaded yet.
    pub unsynced_photos: u64,
    /// Other unsynced versions.
    pub unsynced_other: u64,
    /// When the oldest unsynced version was written.
    pub oldest_unsynced_ms: Option<i64>,
    /// Versions the server refused.
    pub refused: u64,
    /// The offline lease.
    pub lease: LeaseState,
    /// "3 notes not synced for 2 days", when unsynced work is older than the policy allows.
    pub unsynced_alarm: Option<String>,
    /// A verified wipe command is pending: show no data; it finishes at the next contact.
    pub wipe_pending: bool,
}

/// Sync and identity for one vault.
#[derive(uniffi::Object)]
pub struct WardSync {
    vault: Arc<Vault>,
    runtime: tokio::runtime::Runtime,
    cancel: Notify,
}

impl std::fmt::Debug for WardSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WardSync").finish_non_exhaustive()
    }
}

impl WardSync {
    /// Sync over a core vault (the CLI and tests; apps use the constructor).
    pub fn for_vault(vault: Arc<Vault>) -> R<Arc<Self>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WardError::Internal {
                detail: e.to_string(),
            })?;
        Ok(Arc::new(Self {
            vault,
            runtime,
            cancel: Notify::new(),
        }))
    }

    fn api(&self, server: &str) -> R<ApiClient> {
        ApiClient::new(server, self.vault.identity().tenant, Arc::new(SystemClock))
            .map(|api| api.with_time_floor(self.vault.time_floor()))
            .map_err(|e| ClientError::from(e).into())
    }

    fn enrolled_api(&self) -> R<ApiClient> {
        let e = identity::enrollment(&self.vault)?.ok_or_else(|| WardError::NotAllowed {
            detail: "this device is not enrolled".into(),
        })?;
        self.api(&e.server)
    }

    pub(super) fn run<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> R<T> {
        let r = self.runtime.block_on(async {
            tokio::select! {
                r = fut => r.map_err(WardError::from),
                () = self.cancel.notified() => Err(WardError::Cancelled),
            }
        });
        match r {
            // A wipe was verified and could not finish (no signal for the rescue): whatever
            // stopped it, what the app must do is show no data.
            Err(e) if !matches!(e, WardError::Wiped) && self.vault.is_wipe_pending() => {
                tracing::warn!(error = %e, "wipe pending; it finishes at the next contact or start");
                Err(WardError::WipePending)
            }
            other => other,
        }
    }

    pub(super) fn engine(&self) -> R<Engine> {
        let api = self.enrolled_api()?;
        let session =
            identity::load_session(&self.vault)?.ok_or_else(|| WardError::SignInRequired {
                detail: "no session: log in with the passkey".into(),
            })?;
        Ok(Engine::new(self.vault.clone(), api, session))
    }
}

#[uniffi::export]
impl WardSync {
    /// Sync for `vault`.
    #[uniffi::constructor]
    pub fn new(vault: Arc<WardVault>) -> R<Arc<Self>> {
        Self::for_vault(vault.inner().clone())
    }

    /// Enrolls this device at `server` with an admin's invite code: passkey registration
    /// through `passkey`, a new device key, and the clinic's keys once approved. Returns the
    /// device status ("pending" until an admin approves it).
    pub fn enroll(
        &self,
        server: String,
        invite_code: String,
        user_name: String,
        device_name: String,
        passkey: Arc<dyn PasskeyProvider>,
    ) -> R<String> {
        let api = self.api(&server)?;
        self.run(async {
            let grant = identity::enroll(
                &self.vault,
                &api,
                &invite_code,
                &user_name,
                &device_name,
                &Provider(passkey.clone()),
            )
            .await?;
            self.after_sign_in(&api).await?;
            Ok(identity::enrollment(&self.vault)?
                .map(|e| e.device_status)
                .unwrap_or_else(|| format!("{:?}", grant.device_status)))
        })
    }

    /// Logs in again with the passkey (after the session expired or was revoked) and fetches
    /// the clinic's keys.
    pub fn login(&self, passkey: Arc<dyn PasskeyProvider>) -> R<String> {
        let api = self.enrolled_api()?;
        self.run(async {
            let login = identity::login(&self.vault, &api, &Provider(passkey.clone())).await;
            if let Err(ClientError::Sync(SyncError::WipeRequired(w))) = login {
                return Err(self.execute_wipe(&api, &w).await);
            }
            login?;
            self.after_sign_in(&api).await?;
            Ok(identity::enrollment(&self.vault)?
                .map(|e| e.device_status)
                .unwrap_or_default())
        })
    }

    /// Asks the server for this device's status (a pending device polls this for approval)
    /// and fetches the clinic's keys once it is active.
    pub fn refresh(&self) -> R<String> {
        let api = self.enrolled_api()?;
        self.run(async {
            self.after_sign_in(&api).await?;
            Ok(identity::enrollment(&self.vault)?
                .map(|e| e.device_status)
                .unwrap_or_default())
        })
    }

    /// One full sync: push, upload photos, pull. With a wipe pending, it finishes the wipe
    /// instead (rescue, shred, receipt) and returns `Wiped`, or `WipePending` if it still
    /// cannot.
    pub fn sync(&self, listener: Option<Arc<dyn SyncListener>>) -> R<SyncSummary> {
        let engine = self.engine()?;
        if self.vault.is_wipe_pending() {
            return self.run(async {
                let net = Some((engine.api(), engine.session()));
                wipe::resume(&self.vault, net, false).await?;
                Err(CoreError::Wiped.into())
            });
        }
        let progress = ListenerProgress(listener);
        self.run(async { Ok(engine.sync(&progress).await?.into()) })
    }

    /// Makes a pulled photo's content available on this device (downloads it if needed).
    pub fn download_photo(&self, photo_id: String) -> R<bool> {
        let id = parse_id(&photo_id, "photo")?;
        let engine = self.engine()?;
        self.run(async { engine.ensure_photo(id).await })
    }

    /// Admin: issues an invite for `role` ("admin", "clinician", "front_desk") and returns its
    /// one-time code.
    pub fn create_invite(&self, role: String, display_name: String) -> R<String> {
        let engine = self.engine()?;
        self.run(async {
            identity::create_invite(engine.api(), engine.session(), &role, &display_name).await
        })
    }

    /// Admin: approves a pending device; it gets the clinic's keys at its next refresh.
    pub fn approve_device(&self, device_id: String) -> R<()> {
        let engine = self.engine()?;
        self.run(async {
            identity::approve_device(engine.api(), engine.session(), &device_id).await
        })
    }

    /// Admin: the clinic's devices, as JSON.
    pub fn list_devices(&self) -> R<String> {
        let engine = self.engine()?;
        self.run(async {
            Ok(identity::list_devices(engine.api(), engine.session())
                .await?
                .to_string())
        })
    }

    /// Admin: revokes a device after a passkey step-up. Its sessions end, the clinic key
    /// rotates, and a signed wipe command waits for its next contact. Returns the server's
    /// answer (JSON).
    pub fn revoke_device(&self, device_id: String, passkey: Arc<dyn PasskeyProvider>) -> R<String> {
        let id = parse_id::<ward_proto::DeviceId>(&device_id, "device")?;
        self.admin_step_up(passkey, Method::POST, format!("/devices/{id}/revoke"), None)
    }

    /// Admin: tenant lockdown after a passkey step-up: every other device revoked and wiped,
    /// the key rotated, every session ended (this one too: sign in again). JSON answer.
    pub fn lockdown(&self, passkey: Arc<dyn PasskeyProvider>) -> R<String> {
        self.admin_step_up(passkey, Method::POST, "/lockdown".into(), None)
    }

    /// Admin: replaces the clinic's policies (JSON: idle_lock_seconds, offline_lease_hours,
    /// lease_warning_hours, photo_consent_required, exif_keep, rescue_on_wipe) after a passkey
    /// step-up; every device applies them at its next sync. Returns the stored policy (JSON).
    pub fn update_clinic_policy(
        &self,
        policy_json: String,
        passkey: Arc<dyn PasskeyProvider>,
    ) -> R<String> {
        let body: serde_json::Value =
            serde_json::from_str(&policy_json).map_err(|e| WardError::InvalidInput {
                detail: format!("policy is not JSON: {e}"),
            })?;
        self.admin_step_up(passkey, Method::PUT, "/policy".into(), Some(body))
    }

    /// Admin: versions rescued by revoked devices, awaiting a decision (JSON array).
    pub fn quarantine(&self) -> R<String> {
        let engine = self.engine()?;
        self.run(async {
            Ok(identity::admin_call(
                engine.api(),
                engine.session(),
                Method::GET,
                "/quarantine",
                None,
            )
            .await?
            .to_string())
        })
    }

    /// Admin: accepts a rescued version into the record (`accept`) or rejects it.
    pub fn decide_quarantine(&self, version_id: String, accept: bool) -> R<()> {
        let id = parse_id::<ward_proto::VersionId>(&version_id, "version")?;
        let verb = if accept { "accept" } else { "reject" };
        let engine = self.engine()?;
        self.run(async {
            identity::admin_call(
                engine.api(),
                engine.session(),
                Method::POST,
                &format!("/quarantine/{id}/{verb}"),
                None,
            )
            .await?;
            Ok(())
        })
    }

    /// Stops a running call at its next step; it returns `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.notify_waiters();
    }

    /// Enrollment, last contact and unsynced work.
    pub fn status(&self) -> R<SyncStatus> {
        let e = identity::enrollment(&self.vault)?;
        let u = self.vault.unsynced()?;
        Ok(SyncStatus {
            enrolled: e.is_some(),
            role: e.as_ref().map(|e| e.role.clone()).unwrap_or_default(),
            device_status: e.map(|e| e.device_status).unwrap_or_default(),
            last_contact_ms: self.vault.sync_meta_i64(LAST_CONTACT_MS)?,
            unsynced_clients: u.clients,
            unsynced_notes: u.notes,
            unsynced_photos: u.photos,
            unsynced_other: u.other,
            oldest_unsynced_ms: u.oldest_at_ms,
            refused: u.refused,
            lease: device_state::lease(&self.vault)?,
            unsynced_alarm: device_state::unsynced_alarm(
                &u,
                self.vault.now_ms(),
                self.vault.policy().unsynced_alarm_hours,
            ),
            wipe_pending: self.vault.is_wipe_pending(),
        })
    }

    /// Call at every app start (and when the status shows the lease expired). In order: sends
    /// a wipe receipt still waiting beside the vault; finishes a pending wipe (rescue when
    /// unlocked and online; shred without it once the lease ran out), else returns
    /// `WipePending`; and if the offline lease ran out, first tries a sync (unlocked, online:
    /// it renews the lease and saves the unsynced work), then crypto-shreds the vault.
    /// Returns `true` when the vault is wiped (show the re-enrollment screen).
    pub fn enforce_lease(&self) -> R<bool> {
        let dir = self.vault.dir().to_path_buf();
        self.runtime.block_on(async {
            if let Err(e) = receipt::send(&dir, None).await {
                tracing::warn!(error = %e, "pending wipe receipt unreadable");
            }
        });
        if self.vault.is_wiped() {
            return Ok(true);
        }
        let expired = device_state::lease(&self.vault)? == LeaseState::Expired;
        if self.vault.is_wipe_pending() {
            let engine = if self.vault.is_locked() {
                None
            } else {
                self.engine().ok()
            };
            let net = engine.as_ref().map(|e| (e.api(), e.session()));
            return self
                .run(async { Ok(wipe::resume(&self.vault, net, expired).await?.is_some()) });
        }
        if !expired {
            return Ok(false);
        }
        if !self.vault.is_locked() && self.engine().is_ok() {
            match self.sync(None) {
                Ok(_) if device_state::lease(&self.vault)? != LeaseState::Expired => {
                    tracing::info!("offline lease renewed by a sync at its end");
                    return Ok(false);
                }
                Err(WardError::Wiped) => return Ok(true),
                Err(WardError::WipePending) => return Err(WardError::WipePending),
                other => tracing::warn!(result = ?other.map(|_| ()), "sync before the lease wipe"),
            }
        }
        tracing::warn!("offline lease expired: wiping the vault");
        self.vault.wipe()?;
        Ok(true)
    }
}

/// Sends the signed wipe receipt waiting beside the vault folder `vault_dir`, if any (call at
/// every app start, also when the vault is gone). Returns whether nothing is left to send.
#[uniffi::export]
pub fn send_pending_wipe_receipt(vault_dir: String) -> R<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WardError::Internal {
            detail: e.to_string(),
        })?;
    Ok(runtime.block_on(receipt::send(std::path::Path::new(&vault_dir), None))?)
}

impl WardSync {
    pub(super) fn admin_step_up(
        &self,
        passkey: Arc<dyn PasskeyProvider>,
        method: Method,
        rest: String,
        body: Option<serde_json::Value>,
    ) -> R<String> {
        let engine = self.engine()?;
        self.run(async {
            identity::step_up(engine.api(), engine.session(), &Provider(passkey.clone())).await?;
            Ok(
                identity::admin_call(engine.api(), engine.session(), method, &rest, body.as_ref())
                    .await?
                    .to_string(),
            )
        })
    }

    /// Executes a wipe command met outside a sync (login, refresh) with the stored session.
    async fn execute_wipe(
        &self,
        api: &ApiClient,
        signed: &ward_proto::wipe::SignedWipe,
    ) -> ClientError {
        match identity::load_session(&self.vault) {
            Ok(Some(session)) => {
                Engine::new(self.vault.clone(), api.clone(), session)
                    .wipe(signed)
                    .await
            }
            Ok(None) => CoreError::NotAllowed("no session to execute the wipe with".into()).into(),
            Err(e) => e.into(),
        }
    }

    async fn after_sign_in(&self, api: &ApiClient) -> Result<(), ClientError> {
        let session = identity::load_session(&self.vault)?
            .ok_or_else(|| CoreError::NotAllowed("no session".into()))?;
        let me = match identity::me(&self.vault, api, &session).await {
            Err(ClientError::Sync(SyncError::WipeRequired(w))) => {
                return Err(Engine::new(self.vault.clone(), api.clone(), session)
                    .wipe(&w)
                    .await);
            }
            other => other?,
        };
        if me.device_status == ward_proto::api::DeviceStatus::Active {
            identity::release_keys(&self.vault, api, &session).await?;
        }
        device_state::record_contact(&self.vault, api)?;
        Ok(())
    }
}
