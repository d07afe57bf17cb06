//! Passkey identity: enrollment with an invite, login, step-up, invites, "who am I".
//!
//! Ceremony state lives server-side and is consumed atomically on first use and refused after
//! expiry, because webauthn-rs verifies the same assertion against the same state twice. A
//! successful enrollment or login binds a new session to one device key; only the token's hash
//! is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use serde::Deserialize;
use serde_json::Value;
use ward_proto::{DeviceId, TenantId};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::auth::token_hash;
use super::{AppState, parse_body, path_id};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    AuditRecord, Ceremony, CeremonyPurpose, Credential, Device, DeviceStatus, Role, Session, User,
};
use crate::tenants::{self, random_token};
pub use ward_proto::api::{CeremonyStarted, EnrollStart, LoginStart, Me, NewDevice, SessionGrant};

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

/// The tenant's wipe-command public key, which a device pins when it gets a session.
async fn wipe_public_key(state: &AppState, tenant: TenantId) -> ApiResult<Option<String>> {
    Ok(state
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .and_then(|t| t.wipe_key.map(|k| k.public_key)))
}

fn tenant_of(s: &str) -> ApiResult<TenantId> {
    path_id(s, "tenant")
}

async fn require_tenant(state: &AppState, tenant: TenantId) -> ApiResult<()> {
    state
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("no such tenant"))
}

fn webauthn_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "passkey_rejected",
        format!("passkey verification failed: {e}"),
    )
}

fn decode_b64(s: &str) -> ApiResult<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| ApiError::bad_request("bad_base64", "expected base64url"))
}

async fn put_ceremony(
    state: &AppState,
    tenant: TenantId,
    purpose: CeremonyPurpose,
    st: Value,
) -> ApiResult<String> {
    let id = random_token(18)?;
    let c = Ceremony {
        id: id.clone(),
        purpose,
        state: st,
        expires_at_ms: state.now() + state.config.ceremony_ttl_ms,
    };
    state.stores.identity.put_ceremony(tenant, &c).await?;
    Ok(id)
}

async fn take_ceremony(state: &AppState, tenant: TenantId, id: &str) -> ApiResult<Ceremony> {
    state
        .stores
        .identity
        .take_ceremony(tenant, id, state.now())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "ceremony_invalid",
                "unknown, used or expired ceremony; start again",
            )
        })
}

async fn new_session(
    state: &AppState,
    tenant: TenantId,
    user: &User,
    device: DeviceId,
) -> ApiResult<(Session, String)> {
    let token = random_token(32)?;
    let now = state.now();
    let session = Session {
        session_id: random_token(12)?,
        token_hash: token_hash(&token),
        user_id: user.user_id,
        device_id: device,
        role: user.role,
        expires_at_ms: now + state.config.session_ttl_ms,
        authenticated_at_ms: now,
        revoked: false,
    };
    state.stores.devices.put_session(tenant, &session).await?;
    Ok((session, token))
}

async fn audit(
    state: &AppState,
    tenant: TenantId,
    actor: &str,
    device: Option<DeviceId>,
    action: &str,
    target: Option<String>,
) -> ApiResult<()> {
    let r = AuditRecord {
        at_ms: state.now(),
        actor: actor.into(),
        device_id: device,
        action: action.into(),
        target,
    };
    Ok(state.stores.audit.append(tenant, &r).await?)
}

/// `POST /v1/tenants/{tenant}/enroll/start`
pub async fn enroll_start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CeremonyStarted>> {
    let tenant = tenant_of(&tenant)?;
    state.rate_limit(&format!("{tenant}/enroll"))?;
    require_tenant(&state, tenant).await?;
    let req: EnrollStart = parse_body(body)?;
    if req.user_name.trim().is_empty() || req.user_name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_user_name",
            "user_name must be 1-200 characters",
        ));
    }
    let user = User {
        user_id: uuid::Uuid::new_v4(),
        display_name: req.user_name.trim().into(),
        role: Role::Clinician,
        created_at_ms: state.now(),
    };
    let (options, reg): (_, PasskeyRegistration) = state
        .webauthn
        .start_passkey_registration(user.user_id, &user.display_name, &user.display_name, None)
        .map_err(ApiError::internal)?;
    let st = serde_json::to_value(&reg).map_err(ApiError::internal)?;
    let purpose = CeremonyPurpose::Register {
        user,
        invite_hash: token_hash(&req.invite_code),
    };
    let ceremony_id = put_ceremony(&state, tenant, purpose, st).await?;
    Ok(Json(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
    }))
}

/// `POST /v1/tenants/{tenant}/enroll/finish`
pub async fn enroll_finish(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SessionGrant>> {
    let tenant = tenant_of(&tenant)?;
    state.rate_limit(&format!("{tenant}/enroll"))?;
    let req: EnrollFinish = parse_body(body)?;
    let public_key: [u8; 32] = decode_b64(&req.device.public_key)?
        .try_into()
        .map_err(|_| {
            ApiError::bad_request(
                "bad_public_key",
                "device public key must be 32 bytes (Ed25519)",
            )
        })?;
    if req.device.name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_device_name",
            "device name too long",
        ));
    }
    let ceremony = take_ceremony(&state, tenant, &req.ceremony_id).await?;
    let CeremonyPurpose::Register {
        mut user,
        invite_hash,
    } = ceremony.purpose
    else {
        return Err(ApiError::bad_request(
            "wrong_ceremony",
            "not an enrollment ceremony",
        ));
    };
    if invite_hash != token_hash(&req.invite_code) {
        return Err(ApiError::forbidden("invite does not match this ceremony"));
    }
    let reg: PasskeyRegistration =
        serde_json::from_value(ceremony.state).map_err(ApiError::internal)?;
    let passkey: Passkey = state
        .webauthn
        .finish_passkey_registration(&req.credential, &reg)
        .map_err(webauthn_err)?;
    let invite = state
        .stores
        .identity
        .take_invite(tenant, &invite_hash, state.now())
        .await?
        .ok_or_else(|| ApiError::forbidden("invite unknown, already used or expired"))?;
    user.role = invite.role;
    user.display_name = invite.display_name.clone();
    let now = state.now();
    state.stores.identity.put_user(tenant, &user).await?;
    let cred = Credential {
        user_id: user.user_id,
        credential_id: {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
        },
        passkey: serde_json::to_value(&passkey).map_err(ApiError::internal)?,
        created_at_ms: now,
    };
    state.stores.identity.put_credential(tenant, &cred).await?;
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
        enrolled_at_ms: now,
        last_seen_ms: now,
        wipe: None,
    };
    state
        .stores
        .devices
        .create_device(tenant, &device)
        .await
        .map_err(|e| match e {
            crate::error::StoreError::Conflict(_) => {
                ApiError::conflict("device_exists", "this device id is already enrolled")
            }
            other => other.into(),
        })?;
    let (session, token) = new_session(&state, tenant, &user, device.device_id).await?;
    audit(
        &state,
        tenant,
        &user.user_id.to_string(),
        Some(device.device_id),
        "user.enroll",
        Some(user.user_id.to_string()),
    )
    .await?;
    Ok(Json(SessionGrant {
        user_id: user.user_id,
        role: user.role,
        device_id: device.device_id,
        device_status: status,
        session_id: session.session_id,
        token,
        expires_at_ms: session.expires_at_ms,
        wipe_public_key: wipe_public_key(&state, tenant).await?,
    }))
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
    state: &AppState,
    tenant: TenantId,
    user: uuid::Uuid,
) -> ApiResult<Vec<(Credential, Passkey)>> {
    let creds = state.stores.identity.credentials(tenant, user).await?;
    creds
        .into_iter()
        .map(|c| {
            let pk: Passkey =
                serde_json::from_value(c.passkey.clone()).map_err(ApiError::internal)?;
            Ok((c, pk))
        })
        .collect()
}

/// `POST /v1/tenants/{tenant}/login/start`
pub async fn login_start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CeremonyStarted>> {
    let tenant = tenant_of(&tenant)?;
    state.rate_limit(&format!("{tenant}/login"))?;
    let req: LoginStart = parse_body(body)?;
    let keys = passkeys(&state, tenant, req.user_id).await?;
    if keys.is_empty() {
        // Same answer whether the tenant or user exists: nothing to enumerate.
        return Err(ApiError::unauthenticated("no passkey for that user"));
    }
    let list: Vec<Passkey> = keys.into_iter().map(|(_, p)| p).collect();
    let (options, auth): (_, PasskeyAuthentication) = state
        .webauthn
        .start_passkey_authentication(&list)
        .map_err(ApiError::internal)?;
    let st = serde_json::to_value(&auth).map_err(ApiError::internal)?;
    let ceremony_id = put_ceremony(
        &state,
        tenant,
        CeremonyPurpose::Login,
        serde_json::json!({"user_id": req.user_id, "auth": st}),
    )
    .await?;
    Ok(Json(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
    }))
}

/// Verifies an assertion against the user's passkeys and stores the updated counter.
async fn verify_assertion(
    state: &AppState,
    tenant: TenantId,
    user_id: uuid::Uuid,
    st: Value,
    credential: &PublicKeyCredential,
) -> ApiResult<()> {
    let auth: PasskeyAuthentication = serde_json::from_value(st).map_err(ApiError::internal)?;
    let result = state
        .webauthn
        .finish_passkey_authentication(credential, &auth)
        .map_err(webauthn_err)?;
    for (mut cred, mut pk) in passkeys(state, tenant, user_id).await? {
        if pk.update_credential(&result) == Some(true) {
            cred.passkey = serde_json::to_value(&pk).map_err(ApiError::internal)?;
            state.stores.identity.put_credential(tenant, &cred).await?;
        }
    }
    Ok(())
}

/// `POST /v1/tenants/{tenant}/login/finish`
pub async fn login_finish(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SessionGrant>> {
    let tenant = tenant_of(&tenant)?;
    state.rate_limit(&format!("{tenant}/login"))?;
    let req: LoginFinish = parse_body(body)?;
    let ceremony = take_ceremony(&state, tenant, &req.ceremony_id).await?;
    if ceremony.purpose != CeremonyPurpose::Login {
        return Err(ApiError::bad_request(
            "wrong_ceremony",
            "not a login ceremony",
        ));
    }
    #[derive(Deserialize)]
    struct St {
        user_id: uuid::Uuid,
        auth: Value,
    }
    let st: St = serde_json::from_value(ceremony.state).map_err(ApiError::internal)?;
    verify_assertion(&state, tenant, st.user_id, st.auth, &req.credential).await?;
    let user = state
        .stores
        .identity
        .get_user(tenant, st.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("no such user"))?;
    let device = state
        .stores
        .devices
        .get_device(tenant, req.device_id)
        .await?
        .filter(|d| d.user_id == user.user_id)
        .ok_or_else(|| ApiError::forbidden("this device is not enrolled for this user"))?;
    if let (DeviceStatus::Revoked, Some(w)) = (device.status, &device.wipe)
        && w.receipt.is_none()
    {
        // The passkey proved the user and the device is theirs: hand it its wipe command
        // (executable only by that device, under the key it pinned at enrollment).
        return Err(ApiError::wipe_required(w.signed.clone()));
    }
    if !matches!(device.status, DeviceStatus::Pending | DeviceStatus::Active) {
        return Err(ApiError::forbidden("this device was revoked"));
    }
    let (session, token) = new_session(&state, tenant, &user, device.device_id).await?;
    audit(
        &state,
        tenant,
        &user.user_id.to_string(),
        Some(device.device_id),
        "user.login",
        None,
    )
    .await?;
    Ok(Json(SessionGrant {
        user_id: user.user_id,
        role: user.role,
        device_id: device.device_id,
        device_status: device.status,
        session_id: session.session_id,
        token,
        expires_at_ms: session.expires_at_ms,
        wipe_public_key: wipe_public_key(&state, tenant).await?,
    }))
}

/// `POST /v1/tenants/{tenant}/step-up/start` (authenticated)
pub async fn step_up_start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CeremonyStarted>> {
    let (tenant, caller, _) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    state.rate_limit(&format!("{tenant}/step-up"))?;
    let list: Vec<Passkey> = passkeys(&state, tenant, caller.session.user_id)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let (options, auth) = state
        .webauthn
        .start_passkey_authentication(&list)
        .map_err(ApiError::internal)?;
    let st = serde_json::to_value(&auth).map_err(ApiError::internal)?;
    let purpose = CeremonyPurpose::StepUp {
        session_id: caller.session.session_id.clone(),
    };
    let ceremony_id = put_ceremony(&state, tenant, purpose, st).await?;
    Ok(Json(CeremonyStarted {
        ceremony_id,
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
    }))
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

/// `POST /v1/tenants/{tenant}/step-up/finish` (authenticated)
pub async fn step_up_finish(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (tenant, caller, body) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: StepUpFinish = parse_body(Ok(body))?;
    let ceremony = take_ceremony(&state, tenant, &req.ceremony_id).await?;
    let CeremonyPurpose::StepUp { session_id } = ceremony.purpose else {
        return Err(ApiError::bad_request(
            "wrong_ceremony",
            "not a step-up ceremony",
        ));
    };
    if session_id != caller.session.session_id {
        return Err(ApiError::forbidden("ceremony belongs to another session"));
    }
    verify_assertion(
        &state,
        tenant,
        caller.session.user_id,
        ceremony.state,
        &req.credential,
    )
    .await?;
    let now = state.now();
    state
        .stores
        .devices
        .mark_authenticated(tenant, caller.device.device_id, &session_id, now)
        .await?;
    audit(
        &state,
        tenant,
        &caller.actor(),
        Some(caller.device.device_id),
        "user.step_up",
        None,
    )
    .await?;
    Ok(Json(serde_json::json!({"stepped_up_at_ms": now})))
}

/// `GET /v1/tenants/{tenant}/me` (authenticated; pending devices may call it to poll approval)
pub async fn me(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Me>> {
    let (tenant, caller, _) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let t = state
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    Ok(Json(Me {
        user_id: caller.session.user_id,
        role: caller.role(),
        device_id: caller.device.device_id,
        device_status: caller.device.status,
        current_epoch: t.current_epoch,
        policy: t.policy,
    }))
}

/// New invite.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewInvite {
    /// Role to grant.
    pub role: Role,
    /// Invitee's name.
    pub display_name: String,
}

/// `POST /v1/tenants/{tenant}/invites` (admin)
pub async fn create_invite(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (tenant, caller, body) =
        super::auth::authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: NewInvite = parse_body(Ok(body))?;
    if req.display_name.trim().is_empty() || req.display_name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            "display_name must be 1-200 characters",
        ));
    }
    let expires = state.now() + state.config.invite_ttl_ms;
    let code = tenants::invite(
        &state.stores,
        tenant,
        req.role,
        req.display_name.trim(),
        &caller.actor(),
        expires,
        false,
    )
    .await?;
    audit(
        &state,
        tenant,
        &caller.actor(),
        Some(caller.device.device_id),
        "invite.create",
        None,
    )
    .await?;
    Ok(Json(
        serde_json::json!({"code": code, "expires_at_ms": expires}),
    ))
}
