//! The identity client: enrollment with an invite and a passkey, passkey login, and the
//! delivery of the clinic's tenant keys sealed to a one-time X25519 key.
//!
//! Enrollment mints the device's Ed25519 request-signing key here, in the core; its PKCS#8
//! and the session token are stored only sealed under the vault key. Logging in again (a new
//! session after expiry or revocation of the old one) is a passkey assertion bound to this
//! device, and it fetches the tenant keys again so a rotated epoch reaches the phone.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ward_proto::api::{CeremonyStarted, EnrollStart, LoginStart, Me, NewDevice, SessionGrant};
use ward_proto::signing::DeviceKey;
use zeroize::Zeroizing;

use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::meta::PINNED_WIPE_KEY;
use super::passkey::Authenticator;
use crate::error::CoreError;
use crate::vault::Vault;

/// Secret name of the device's request-signing key (PKCS#8).
const DEVICE_KEY: &str = "device_key";
/// Secret name of the current session.
const SESSION: &str = "session";

/// The stored session (sealed under the vault key).
#[derive(Serialize, Deserialize)]
struct StoredSession {
    session_id: String,
    token: String,
    expires_at_ms: i64,
}

impl Drop for StoredSession {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.token.zeroize();
    }
}

fn protocol(e: impl std::fmt::Display) -> ClientError {
    ClientError::Sync(SyncError::Protocol(e.to_string()))
}

/// What the phone knows about its enrollment (stored in sync bookkeeping, no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The server.
    pub server: String,
    /// The user.
    pub user_id: String,
    /// Role, as the server named it.
    pub role: String,
    /// Device status at last contact.
    pub device_status: String,
}

/// Reads the enrollment bookkeeping, if this vault is enrolled.
pub fn enrollment(vault: &Vault) -> Result<Option<Enrollment>, CoreError> {
    let get = |k: &str| -> Result<Option<String>, CoreError> {
        Ok(vault
            .sync_meta(k)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    };
    let (Some(server), Some(user_id)) = (get("server")?, get("user_id")?) else {
        return Ok(None);
    };
    Ok(Some(Enrollment {
        server,
        user_id,
        role: get("role")?.unwrap_or_default(),
        device_status: get("device_status")?.unwrap_or_default(),
    }))
}

fn status_name(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn store_grant(vault: &Vault, grant: &SessionGrant) -> Result<(), CoreError> {
    let stored = StoredSession {
        session_id: grant.session_id.clone(),
        token: grant.token.clone(),
        expires_at_ms: grant.expires_at_ms,
    };
    let json = Zeroizing::new(serde_json::to_vec(&stored)?);
    vault.with_unlocked_for_wipe(|ctx| ctx.set_secret(SESSION, &json))?;
    vault.set_sync_meta("role", status_name(&grant.role).as_bytes())?;
    vault.set_sync_meta(
        "device_status",
        status_name(&grant.device_status).as_bytes(),
    )?;
    // Pinned once, at enrollment: a later grant cannot swap the key wipe commands are checked
    // against.
    if let Some(k) = &grant.wipe_public_key
        && vault.sync_meta(PINNED_WIPE_KEY)?.is_none()
    {
        vault.set_sync_meta(PINNED_WIPE_KEY, k.as_bytes())?;
    }
    Ok(())
}

/// The signed-in session held in the vault, if any.
pub fn load_session(vault: &Vault) -> Result<Option<Session>, CoreError> {
    // Allowed while a wipe is pending: the wipe needs the session, and it shows no record.
    vault.with_unlocked_for_wipe(|ctx| {
        let (Some(key), Some(session)) = (ctx.secret(DEVICE_KEY)?, ctx.secret(SESSION)?) else {
            return Ok(None);
        };
        let key = DeviceKey::from_pkcs8(&key)
            .map_err(|e| CoreError::corrupt("device key", e.to_string()))?;
        let s: StoredSession = serde_json::from_slice(&session)?;
        Ok(Some(Session {
            device_id: ctx.ident.device,
            session_id: s.session_id.clone(),
            token: Zeroizing::new(s.token.clone()),
            key,
        }))
    })
}

/// Enrolls this vault's device with an invite: passkey registration through `passkey`, a new
/// device key, and (if the device is already approved) the tenant keys.
pub async fn enroll(
    vault: &Arc<Vault>,
    api: &ApiClient,
    invite_code: &str,
    user_name: &str,
    device_name: &str,
    passkey: &dyn Authenticator,
) -> Result<SessionGrant, ClientError> {
    let started: CeremonyStarted = api
        .post_public(
            &api.path("/enroll/start"),
            &EnrollStart {
                invite_code: invite_code.to_string(),
                user_name: user_name.to_string(),
            },
        )
        .await?;
    let credential = passkey.create_passkey(started.options.to_string())?;
    let credential: Value = serde_json::from_str(&credential).map_err(protocol)?;
    let (key, pkcs8) = DeviceKey::generate().map_err(protocol)?;
    let device_id = vault.identity().device;
    let grant: SessionGrant = api
        .post_public(
            &api.path("/enroll/finish"),
            &json!({
                "ceremony_id": started.ceremony_id,
                "credential": credential,
                "device": NewDevice {
                    device_id,
                    public_key: URL_SAFE_NO_PAD.encode(key.public_key()),
                    name: device_name.to_string(),
                    platform: ward_proto::people::Platform::Phone,
                },
                "invite_code": invite_code,
            }),
        )
        .await?;
    vault.with_unlocked(|ctx| ctx.set_secret(DEVICE_KEY, &pkcs8))?;
    store_grant(vault, &grant)?;
    vault.set_sync_meta("server", api.base().as_bytes())?;
    vault.set_sync_meta("user_id", grant.user_id.to_string().as_bytes())?;
    vault.set_actor(&grant.user_id.to_string())?;
    tracing::info!(device = %device_id, status = ?grant.device_status, "device enrolled");
    Ok(grant)
}

/// Logs in again with the passkey (a new session for this device) and refreshes the tenant
/// keys if the device is approved.
pub async fn login(
    vault: &Arc<Vault>,
    api: &ApiClient,
    passkey: &dyn Authenticator,
) -> Result<SessionGrant, ClientError> {
    let user_id: uuid::Uuid = enrollment(vault)?
        .ok_or_else(|| CoreError::NotAllowed("this device is not enrolled".into()))?
        .user_id
        .parse()
        .map_err(protocol)?;
    let started: CeremonyStarted = api
        .post_public(&api.path("/login/start"), &LoginStart { user_id })
        .await?;
    let credential = passkey.get_passkey(started.options.to_string())?;
    let credential: Value = serde_json::from_str(&credential).map_err(protocol)?;
    let grant: SessionGrant = api
        .post_public(
            &api.path("/login/finish"),
            &json!({
                "ceremony_id": started.ceremony_id,
                "credential": credential,
                "device_id": vault.identity().device,
            }),
        )
        .await?;
    store_grant(vault, &grant)?;
    Ok(grant)
}

/// Who the server says this device is (also how a pending device polls for approval).
pub async fn me(vault: &Vault, api: &ApiClient, session: &Session) -> Result<Me, ClientError> {
    let me: Me = api
        .signed(session, Method::GET, &api.path("/me"), None)
        .await?;
    vault.set_sync_meta("device_status", status_name(&me.device_status).as_bytes())?;
    apply_policy(vault, &me.policy)?;
    Ok(me)
}

/// Fetches the tenant keys and this user's client keys ([`super::keys::release`]).
/// Returns the current epoch.
pub async fn release_keys(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
) -> Result<u32, ClientError> {
    Ok(super::keys::release(vault, api, session)
        .await?
        .current_epoch)
}

/// Admin: issues an invite for `role` ("admin", "clinician", "front_desk"); returns the code.
pub async fn create_invite(
    api: &ApiClient,
    session: &Session,
    role: &str,
    display_name: &str,
) -> Result<String, ClientError> {
    let out: Value = api
        .signed_json(
            session,
            Method::POST,
            &api.path("/invites"),
            &json!({"role": role, "display_name": display_name}),
        )
        .await?;
    out["code"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| protocol("invite response lacks a code"))
}

/// Admin: approves a pending device.
pub async fn approve_device(
    api: &ApiClient,
    session: &Session,
    device_id: &str,
) -> Result<(), ClientError> {
    let _: Value = api
        .signed(
            session,
            Method::POST,
            &api.path(&format!("/devices/{device_id}/approve")),
            None,
        )
        .await?;
    Ok(())
}

/// Admin: the tenant's devices as the server lists them (JSON).
pub async fn list_devices(api: &ApiClient, session: &Session) -> Result<Value, ClientError> {
    Ok(api
        .signed(session, Method::GET, &api.path("/devices"), None)
        .await?)
}

/// A fresh passkey assertion for this session (step-up), which destructive admin actions
/// (revoke, lockdown, policy changes) require within the last five minutes.
pub async fn step_up(
    api: &ApiClient,
    session: &Session,
    passkey: &dyn Authenticator,
) -> Result<(), ClientError> {
    let started: CeremonyStarted = api
        .signed(session, Method::POST, &api.path("/step-up/start"), None)
        .await?;
    let credential = passkey.get_passkey(started.options.to_string())?;
    let credential: Value = serde_json::from_str(&credential).map_err(protocol)?;
    let _: Value = api
        .signed_json(
            session,
            Method::POST,
            &api.path("/step-up/finish"),
            &json!({"ceremony_id": started.ceremony_id, "credential": credential}),
        )
        .await?;
    Ok(())
}

/// Admin: an authenticated call under the tenant (`rest` like `/quarantine`), JSON in and out.
pub async fn admin_call(
    api: &ApiClient,
    session: &Session,
    method: Method,
    rest: &str,
    body: Option<&Value>,
) -> Result<Value, ClientError> {
    let path = api.path(rest);
    Ok(match body {
        Some(b) => api.signed_json(session, method, &path, b).await?,
        None => api.signed(session, method, &path, None).await?,
    })
}

/// Applies the clinic's policy to this vault (idle lock, lease and warning, consent, EXIF
/// keep-list) and remembers its fingerprint; the phone's own settings (thumbnail size, alarm
/// threshold) stay as they are.
pub fn apply_policy(vault: &Vault, p: &ward_proto::api::TenantPolicy) -> Result<(), CoreError> {
    let mut local = vault.policy();
    local.idle_lock_seconds = p.idle_lock_seconds;
    local.offline_lease_hours = p.offline_lease_hours;
    local.lease_warning_hours = p.lease_warning_hours;
    local.photo_consent_required = p.photo_consent_required;
    local.exif_keep_tags = p
        .exif_keep
        .iter()
        .filter_map(|n| ward_proto::api::exif_tag(n))
        .collect();
    if local != vault.policy() {
        tracing::info!(tag = %p.tag(), "applying the clinic's policy");
        vault.set_policy(local)?;
    }
    vault.set_sync_meta(POLICY_TAG, p.tag().as_bytes())?;
    Ok(())
}

/// Sync bookkeeping key of the applied policy's fingerprint.
pub const POLICY_TAG: &str = "policy_tag";
