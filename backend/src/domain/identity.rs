//! Passkey identity: enrollment with an invite, login, step-up, invites, "who am I".
//!
//! Ceremony state lives server-side and is consumed atomically on first use and refused after
//! expiry, because webauthn-rs verifies the same assertion against the same state twice. A
//! successful enrollment or login binds a new session to one device key; only the token's hash
//! is stored.

use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ward_proto::errors::ErrorCode;
use ward_proto::{DeviceId, TenantId};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn,
};

use super::devices::{Admission, admission};
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{
    AuditRecord, Ceremony, CeremonyPurpose, Credential, Device, DeviceStatus, Role, Session, User,
};
use crate::tenants::random_token;
pub use ward_proto::api::{CeremonyStarted, EnrollStart, LoginStart, Me, NewDevice, SessionGrant};

/// SHA-256 (hex) of a session token or invite code: only this is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(digest(&SHA256, token.as_bytes()))
}

/// The answer to a step-up.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SteppedUp {
    /// When the assertion was verified (step-up counts for five minutes from then).
    pub stepped_up_at_ms: i64,
}

/// A new invite.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InviteCreated {
    /// The one-time code for the invitee (only its hash is stored).
    pub code: String,
    /// When it expires.
    pub expires_at_ms: i64,
}

/// End of enrollment.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EnrollFinish {
    /// From the start call.
    pub ceremony_id: String,
    /// The authenticator's attestation.
    #[schemars(with = "serde_json::Value")]
    pub credential: RegisterPublicKeyCredential,
    /// The device the new session is bound to.
    pub device: NewDevice,
    /// The invite code again (consumed now).
    pub invite_code: String,
}

/// The existing, active user a device invite names.
async fn invited_user(env: Env<'_>, tenant: TenantId, id: uuid::Uuid) -> DomainResult<User> {
    env.stores
        .identity
        .get_user(tenant, id)
        .await?
        .filter(User::active)
        .ok_or_else(|| DomainError::forbidden("invite unknown, already used or expired"))
}

/// The tenant's wipe-command public key, which a device pins when it gets a session.
async fn wipe_public_key(env: Env<'_>, tenant: TenantId) -> DomainResult<Option<String>> {
    Ok(env
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .and_then(|t| t.wipe_key.map(|k| k.public_key)))
}

/// 404 unless the tenant exists and was not offboarded (checked before an enrollment's body
/// is read).
pub async fn require_tenant(env: Env<'_>, tenant: TenantId) -> DomainResult<()> {
    env.tenant(tenant).await.map(drop)
}

/// The clinic's policy (request authentication reads it for console sessions).
pub async fn tenant_policy(
    env: Env<'_>,
    tenant: TenantId,
) -> DomainResult<crate::model::TenantPolicy> {
    Ok(env.tenant(tenant).await?.policy)
}

fn webauthn_err(e: impl std::fmt::Display) -> DomainError {
    DomainError::Unauthenticated {
        code: ErrorCode::PasskeyRejected,
        message: format!("passkey verification failed: {e}"),
    }
}

fn decode_b64(s: &str) -> DomainResult<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| DomainError::invalid(ErrorCode::BadBase64, "expected base64url"))
}

async fn put_ceremony(
    env: Env<'_>,
    tenant: TenantId,
    purpose: CeremonyPurpose,
    st: Value,
) -> DomainResult<String> {
    let id = random_token(18)?;
    let c = Ceremony {
        id: id.clone(),
        purpose,
        state: st,
        expires_at_ms: env.now() + env.config.ceremony_ttl_ms,
    };
    env.stores.identity.put_ceremony(tenant, &c).await?;
    Ok(id)
}

async fn take_ceremony(env: Env<'_>, tenant: TenantId, id: &str) -> DomainResult<Ceremony> {
    env.stores
        .identity
        .take_ceremony(tenant, id, env.now())
        .await?
        .ok_or_else(|| DomainError::Unauthenticated {
            code: ErrorCode::CeremonyInvalid,
            message: "unknown, used or expired ceremony; start again".into(),
        })
}

async fn new_session(
    env: Env<'_>,
    tenant: TenantId,
    user: &User,
    device: &Device,
) -> DomainResult<(Session, String)> {
    let token = random_token(32)?;
    let now = env.now();
    let session = Session {
        session_id: random_token(12)?,
        token_hash: token_hash(&token),
        user_id: user.user_id,
        device_id: device.device_id,
        role: user.role,
        expires_at_ms: now + env.config.session_ttl_ms,
        authenticated_at_ms: now,
        revoked: false,
        created_at_ms: now,
        last_used_ms: now,
        console: device.platform == crate::model::Platform::Browser,
    };
    env.stores.devices.put_session(tenant, &session).await?;
    Ok((session, token))
}

pub(super) async fn audit(
    env: Env<'_>,
    tenant: TenantId,
    actor: &str,
    device: Option<DeviceId>,
    action: &str,
    target: Option<String>,
) -> DomainResult<()> {
    let r = AuditRecord {
        at_ms: env.now(),
        actor: actor.into(),
        device_id: device,
        action: action.into(),
        target,
    };
    Ok(env.stores.audit.append(tenant, &r).await?)
}

/// Starts enrollment with an invite: a passkey registration ceremony.
pub async fn enroll_start(
    env: Env<'_>,
    webauthn: &Webauthn,
    tenant: TenantId,
    req: &EnrollStart,
) -> DomainResult<CeremonyStarted> {
    let user_name = super::text::clean_name(&req.user_name, true)
        .map_err(|e| DomainError::invalid(ErrorCode::InvalidUserName, format!("user_name {e}")))?;
    // Refused here, not only at finish: no ceremony is stored for a code that cannot enroll.
    let invite_hash = token_hash(&req.invite_code);
    let invite = env
        .stores
        .identity
        .get_invite(tenant, &invite_hash)
        .await?
        .filter(|i| i.expires_at_ms > env.now())
        .ok_or_else(|| DomainError::forbidden("invite unknown, already used or expired"))?;
    let user = match invite.user_id {
        // A device invite: another passkey and device of this existing person.
        Some(id) => invited_user(env, tenant, id).await?,
        None => User {
            user_id: uuid::Uuid::new_v4(),
            display_name: user_name.into(),
            role: Role::Clinician,
            created_at_ms: env.now(),
            deactivated_at_ms: None,
        },
    };
    let (options, reg): (_, PasskeyRegistration) = webauthn
        .start_passkey_registration(user.user_id, &user.display_name, &user.display_name, None)
        .map_err(DomainError::internal)?;
    let st = serde_json::to_value(&reg).map_err(DomainError::internal)?;
    let purpose = CeremonyPurpose::Register { user, invite_hash };
    let ceremony_id = put_ceremony(env, tenant, purpose, st).await?;
    Ok(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(DomainError::internal)?,
    })
}

/// Finishes enrollment: the passkey, the device key (pending unless the invite approves it)
/// and a session.
pub async fn enroll_finish(
    env: Env<'_>,
    webauthn: &Webauthn,
    tenant: TenantId,
    req: &EnrollFinish,
) -> DomainResult<SessionGrant> {
    let public_key: [u8; 32] = decode_b64(&req.device.public_key)?
        .try_into()
        .map_err(|_| {
            DomainError::invalid(
                ErrorCode::BadPublicKey,
                "device public key must be 32 bytes (Ed25519)",
            )
        })?;
    super::text::clean_name(&req.device.name, false).map_err(|e| {
        DomainError::invalid(ErrorCode::InvalidDeviceName, format!("device name {e}"))
    })?;
    let ceremony = take_ceremony(env, tenant, &req.ceremony_id).await?;
    let CeremonyPurpose::Register {
        mut user,
        invite_hash,
    } = ceremony.purpose
    else {
        return Err(DomainError::invalid(
            ErrorCode::WrongCeremony,
            "not an enrollment ceremony",
        ));
    };
    if invite_hash != token_hash(&req.invite_code) {
        return Err(DomainError::forbidden(
            "invite does not match this ceremony",
        ));
    }
    let reg: PasskeyRegistration =
        serde_json::from_value(ceremony.state).map_err(DomainError::internal)?;
    let passkey: Passkey = webauthn
        .finish_passkey_registration(&req.credential, &reg)
        .map_err(webauthn_err)?;
    let invite = env
        .stores
        .identity
        .take_invite(tenant, &invite_hash, env.now())
        .await?
        .ok_or_else(|| DomainError::forbidden("invite unknown, already used or expired"))?;
    let now = env.now();
    match invite.user_id {
        // The person exists: their role, name, care teams and history carry over.
        Some(id) => user = invited_user(env, tenant, id).await?,
        None => {
            user.role = invite.role;
            user.display_name = invite.display_name.clone();
            env.stores.identity.put_user(tenant, &user).await?;
        }
    }
    let cred = Credential {
        user_id: user.user_id,
        credential_id: {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
        },
        passkey: serde_json::to_value(&passkey).map_err(DomainError::internal)?,
        created_at_ms: now,
    };
    env.stores.identity.put_credential(tenant, &cred).await?;
    let status = if invite.auto_approve_device {
        DeviceStatus::Active
    } else {
        DeviceStatus::Pending
    };
    let device = Device {
        device_id: req.device.device_id,
        user_id: user.user_id,
        public_key,
        status,
        name: req.device.name.clone(),
        platform: req.device.platform,
        enrolled_at_ms: now,
        last_seen_ms: now,
        wipe: None,
        revocation: None,
    };
    env.stores
        .devices
        .create_device(tenant, &device)
        .await
        .map_err(|e| match e {
            crate::error::StoreError::Conflict(_) => DomainError::conflict(
                ErrorCode::DeviceExists,
                "this device id is already enrolled",
            ),
            other => other.into(),
        })?;
    let (session, token) = new_session(env, tenant, &user, &device).await?;
    audit(
        env,
        tenant,
        &user.user_id.to_string(),
        Some(device.device_id),
        if invite.user_id.is_some() {
            "device.enroll"
        } else {
            "user.enroll"
        },
        Some(user.user_id.to_string()),
    )
    .await?;
    Ok(SessionGrant {
        user_id: user.user_id,
        role: user.role,
        device_id: device.device_id,
        device_status: status,
        session_id: session.session_id,
        token,
        expires_at_ms: session.expires_at_ms,
        wipe_public_key: wipe_public_key(env, tenant).await?,
    })
}

/// End of login.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LoginFinish {
    /// From the start call.
    pub ceremony_id: String,
    /// The authenticator's assertion.
    #[schemars(with = "serde_json::Value")]
    pub credential: PublicKeyCredential,
    /// The device the session is bound to (enrolled by this user).
    pub device_id: DeviceId,
}

async fn passkeys(
    env: Env<'_>,
    tenant: TenantId,
    user: uuid::Uuid,
) -> DomainResult<Vec<(Credential, Passkey)>> {
    let creds = env.stores.identity.credentials(tenant, user).await?;
    creds
        .into_iter()
        .map(|c| {
            let pk: Passkey =
                serde_json::from_value(c.passkey.clone()).map_err(DomainError::internal)?;
            Ok((c, pk))
        })
        .collect()
}

/// Starts a passkey login (the same refusal whether the user exists or not).
pub async fn login_start(
    env: Env<'_>,
    webauthn: &Webauthn,
    tenant: TenantId,
    req: &LoginStart,
) -> DomainResult<CeremonyStarted> {
    let active = env.tenant(tenant).await.is_ok()
        && env
            .stores
            .identity
            .get_user(tenant, req.user_id)
            .await?
            .is_some_and(|u| u.active());
    let keys = if active {
        passkeys(env, tenant, req.user_id).await?
    } else {
        Vec::new()
    };
    if keys.is_empty() {
        // Same answer whether the tenant or user exists: nothing to enumerate.
        return Err(DomainError::unauthenticated("no passkey for that user"));
    }
    let list: Vec<Passkey> = keys.into_iter().map(|(_, p)| p).collect();
    let (options, auth): (_, PasskeyAuthentication) = webauthn
        .start_passkey_authentication(&list)
        .map_err(DomainError::internal)?;
    let st = serde_json::to_value(&auth).map_err(DomainError::internal)?;
    let ceremony_id = put_ceremony(
        env,
        tenant,
        CeremonyPurpose::Login,
        serde_json::json!({"user_id": req.user_id, "auth": st}),
    )
    .await?;
    Ok(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(DomainError::internal)?,
    })
}

/// Verifies an assertion against the user's passkeys and stores the updated counter.
async fn verify_assertion(
    env: Env<'_>,
    webauthn: &Webauthn,
    tenant: TenantId,
    user_id: uuid::Uuid,
    st: Value,
    credential: &PublicKeyCredential,
) -> DomainResult<()> {
    let auth: PasskeyAuthentication = serde_json::from_value(st).map_err(DomainError::internal)?;
    let result = webauthn
        .finish_passkey_authentication(credential, &auth)
        .map_err(webauthn_err)?;
    for (mut cred, mut pk) in passkeys(env, tenant, user_id).await? {
        if pk.update_credential(&result) == Some(true) {
            cred.passkey = serde_json::to_value(&pk).map_err(DomainError::internal)?;
            env.stores.identity.put_credential(tenant, &cred).await?;
        }
    }
    Ok(())
}

/// Finishes a passkey login on a device of this user; a revoked device is handed its wipe.
pub async fn login_finish(
    env: Env<'_>,
    webauthn: &Webauthn,
    tenant: TenantId,
    req: &LoginFinish,
) -> DomainResult<SessionGrant> {
    let ceremony = take_ceremony(env, tenant, &req.ceremony_id).await?;
    if ceremony.purpose != CeremonyPurpose::Login {
        return Err(DomainError::invalid(
            ErrorCode::WrongCeremony,
            "not a login ceremony",
        ));
    }
    #[derive(Deserialize)]
    struct St {
        user_id: uuid::Uuid,
        auth: Value,
    }
    let st: St = serde_json::from_value(ceremony.state).map_err(DomainError::internal)?;
    verify_assertion(env, webauthn, tenant, st.user_id, st.auth, &req.credential).await?;
    let user = env
        .stores
        .identity
        .get_user(tenant, st.user_id)
        .await?
        .filter(User::active)
        .ok_or_else(|| DomainError::unauthenticated("no such user"))?;
    let device = env
        .stores
        .devices
        .get_device(tenant, req.device_id)
        .await?
        .filter(|d| d.user_id == user.user_id)
        .ok_or_else(|| DomainError::forbidden("this device is not enrolled for this user"))?;
    match admission(&device) {
        Admission::Admitted => {}
        // The passkey proved the user and the device is theirs: hand it its wipe command
        // (executable only by that device, under the key it pinned at enrollment).
        Admission::MustWipe(signed) => return Err(DomainError::WipeRequired(signed)),
        Admission::Refused => return Err(DomainError::forbidden("this device was revoked")),
    }
    // One live session per device: a new login ends the device's earlier sessions (a token
    // left in an old process or a stolen copy dies with it). The person's other devices keep
    // theirs. See docs/protocol.md, "Sessions".
    let ended = env
        .stores
        .devices
        .revoke_device_sessions(tenant, device.device_id)
        .await?;
    let (session, token) = new_session(env, tenant, &user, &device).await?;
    audit(
        env,
        tenant,
        &user.user_id.to_string(),
        Some(device.device_id),
        "user.login",
        (ended > 0).then(|| format!("ended {ended} earlier session(s) of this device")),
    )
    .await?;
    Ok(SessionGrant {
        user_id: user.user_id,
        role: user.role,
        device_id: device.device_id,
        device_status: device.status,
        session_id: session.session_id,
        token,
        expires_at_ms: session.expires_at_ms,
        wipe_public_key: wipe_public_key(env, tenant).await?,
    })
}

/// Starts a step-up assertion bound to the caller's session.
pub async fn step_up_start(
    env: Env<'_>,
    webauthn: &Webauthn,
    caller: &Caller,
) -> DomainResult<CeremonyStarted> {
    let tenant = caller.tenant;
    let list: Vec<Passkey> = passkeys(env, tenant, caller.session.user_id)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let (options, auth) = webauthn
        .start_passkey_authentication(&list)
        .map_err(DomainError::internal)?;
    let st = serde_json::to_value(&auth).map_err(DomainError::internal)?;
    let purpose = CeremonyPurpose::StepUp {
        session_id: caller.session.session_id.clone(),
    };
    let ceremony_id = put_ceremony(env, tenant, purpose, st).await?;
    Ok(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(DomainError::internal)?,
    })
}

/// End of step-up.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StepUpFinish {
    /// From the start call.
    pub ceremony_id: String,
    /// The assertion.
    #[schemars(with = "serde_json::Value")]
    pub credential: PublicKeyCredential,
}

/// Finishes a step-up: the session counts as freshly authenticated.
pub async fn step_up_finish(
    env: Env<'_>,
    webauthn: &Webauthn,
    caller: &Caller,
    req: &StepUpFinish,
) -> DomainResult<SteppedUp> {
    let tenant = caller.tenant;
    let ceremony = take_ceremony(env, tenant, &req.ceremony_id).await?;
    let CeremonyPurpose::StepUp { session_id } = ceremony.purpose else {
        return Err(DomainError::invalid(
            ErrorCode::WrongCeremony,
            "not a step-up ceremony",
        ));
    };
    if session_id != caller.session.session_id {
        return Err(DomainError::forbidden(
            "ceremony belongs to another session",
        ));
    }
    verify_assertion(
        env,
        webauthn,
        tenant,
        caller.session.user_id,
        ceremony.state,
        &req.credential,
    )
    .await?;
    let now = env.now();
    env.stores
        .devices
        .mark_authenticated(tenant, caller.device.device_id, &session_id, now)
        .await?;
    audit(
        env,
        tenant,
        &caller.actor(),
        Some(caller.device.device_id),
        "user.step_up",
        None,
    )
    .await?;
    Ok(SteppedUp {
        stepped_up_at_ms: now,
    })
}

pub use super::invites::{NewInvite, create_invite, me};
