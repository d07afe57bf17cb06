//! People: a user is one person with several devices (phones, console browsers, the CLI), each
//! with its own passkey and device key, and each device with its sessions. Admins see every
//! person with their devices and live sessions, add a device to a person (a device invite bound
//! to that user; a signed-in user can start one for themself), change a role, end a session
//! and deactivate a leaver. Staff names are not clinical data (stored in clear, like the invite
//! they came from); client names never pass through here.

use serde::Serialize;
use ward_proto::errors::ErrorCode;
use ward_proto::people::{Deactivation, DeviceInvite, RoleChange, SessionInfo};
use ward_proto::{DeviceId, TenantId};

use super::teams::clean_reason;
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{Device, DeviceStatus, Platform, Role, Session, User};
use crate::tenants;

/// One device of a person as the console lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DeviceSummary {
    /// Device id.
    pub device_id: DeviceId,
    /// Its name.
    pub name: String,
    /// Phone, browser, CLI.
    pub platform: Platform,
    /// Lifecycle state.
    pub status: DeviceStatus,
    /// Enrolled.
    pub enrolled_at_ms: i64,
    /// Last contact (to the minute).
    pub last_seen_ms: i64,
}

/// A person: their role, their devices and their live sessions.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Person {
    /// User id.
    pub user_id: uuid::Uuid,
    /// Name from the invite.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When the user enrolled.
    pub created_at_ms: i64,
    /// When deactivated, if they were.
    pub deactivated_at_ms: Option<i64>,
    /// Their devices, oldest first.
    pub devices: Vec<DeviceSummary>,
    /// Their live sessions, newest first.
    pub sessions: Vec<SessionInfo>,
}

/// A deactivation's result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Deactivated {
    /// The user.
    pub user_id: uuid::Uuid,
    /// When (the first call's time; a retry answers the same).
    pub deactivated_at_ms: i64,
    /// Devices revoked by this call (each wiped at its next contact).
    pub devices_revoked: u32,
    /// Sessions ended by this call.
    pub sessions_ended: u32,
    /// Care teams left by this call.
    pub teams_left: u32,
}

fn session_info(s: &Session) -> SessionInfo {
    SessionInfo {
        session_id: s.session_id.clone(),
        device_id: s.device_id,
        created_at_ms: s.started_ms(),
        last_used_ms: s.used_ms(),
        expires_at_ms: s.expires_at_ms,
        console: s.console,
    }
}

async fn user(env: Env<'_>, tenant: TenantId, id: uuid::Uuid) -> DomainResult<User> {
    env.stores
        .identity
        .get_user(tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("no such user"))
}

async fn live_sessions(
    env: Env<'_>,
    tenant: TenantId,
    devices: &[Device],
) -> DomainResult<Vec<SessionInfo>> {
    let now = env.now();
    let policy = env.tenant(tenant).await?.policy;
    let mut out = Vec::new();
    for d in devices {
        for s in env
            .stores
            .devices
            .list_sessions(tenant, d.device_id)
            .await?
        {
            if s.live(now, &policy) {
                out.push(session_info(&s));
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at_ms));
    Ok(out)
}

async fn person(env: Env<'_>, tenant: TenantId, u: User, all: &[Device]) -> DomainResult<Person> {
    let mut devices: Vec<Device> = all
        .iter()
        .filter(|d| d.user_id == u.user_id)
        .cloned()
        .collect();
    devices.sort_by_key(|d| d.enrolled_at_ms);
    let sessions = live_sessions(env, tenant, &devices).await?;
    Ok(Person {
        user_id: u.user_id,
        display_name: u.display_name,
        role: u.role,
        created_at_ms: u.created_at_ms,
        deactivated_at_ms: u.deactivated_at_ms,
        devices: devices
            .into_iter()
            .map(|d| DeviceSummary {
                device_id: d.device_id,
                name: d.name,
                platform: d.platform,
                status: d.status,
                enrolled_at_ms: d.enrolled_at_ms,
                last_seen_ms: d.last_seen_ms,
            })
            .collect(),
        sessions,
    })
}

/// Every person of the caller's clinic, oldest first, with devices and live sessions.
pub async fn list(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<Person>> {
    let tenant = caller.tenant;
    let mut users = env.stores.identity.list_users(tenant).await?;
    users.sort_by_key(|u| u.created_at_ms);
    let devices = env.stores.devices.list_devices(tenant).await?;
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        out.push(person(env, tenant, u, &devices).await?);
    }
    Ok(out)
}

/// One person.
pub async fn get(env: Env<'_>, caller: &Caller, id: uuid::Uuid) -> DomainResult<Person> {
    let u = user(env, caller.tenant, id).await?;
    let devices = env.stores.devices.list_devices(caller.tenant).await?;
    person(env, caller.tenant, u, &devices).await
}

async fn device_invite(env: Env<'_>, caller: &Caller, target: &User) -> DomainResult<DeviceInvite> {
    if !target.active() {
        return Err(DomainError::conflict(
            ErrorCode::UserDeactivated,
            format!("{} was deactivated", target.display_name),
        ));
    }
    let expires = env.now() + env.config.invite_ttl_ms;
    let code =
        tenants::device_invite(env.stores, caller.tenant, target, &caller.actor(), expires).await?;
    caller
        .audit(env, "invite.device", Some(target.user_id.to_string()))
        .await?;
    Ok(DeviceInvite {
        code,
        user_id: target.user_id,
        expires_at_ms: expires,
    })
}

/// An admin adds a device to a person (a new phone, a replacement after a loss, a console
/// browser): the code enrolls a device of that same user, approved as any new device is.
pub async fn invite_device(
    env: Env<'_>,
    caller: &Caller,
    id: uuid::Uuid,
) -> DomainResult<DeviceInvite> {
    let target = user(env, caller.tenant, id).await?;
    // A device of an admin is as consequential as making one.
    if target.role == Role::Admin {
        caller.require_step_up(env.now())?;
    }
    device_invite(env, caller, &target).await
}

/// A signed-in user starts adding a device of their own (it still needs an admin's approval).
pub async fn invite_own_device(env: Env<'_>, caller: &Caller) -> DomainResult<DeviceInvite> {
    caller.require_active()?;
    let target = user(env, caller.tenant, caller.session.user_id).await?;
    device_invite(env, caller, &target).await
}

/// Refuses a change that would leave no active admin.
async fn keep_an_admin(env: Env<'_>, tenant: TenantId, leaving: uuid::Uuid) -> DomainResult<()> {
    let others = env
        .stores
        .identity
        .list_users(tenant)
        .await?
        .into_iter()
        .filter(|u| u.user_id != leaving && u.active() && u.role == Role::Admin)
        .count();
    if others == 0 {
        return Err(DomainError::conflict(
            ErrorCode::LastAdmin,
            "this is the clinic's last active admin: make someone else admin first",
        ));
    }
    Ok(())
}

/// Changes a user's role. Their sessions end (each device signs in again and gets the new
/// role); care teams stay (a clinician made admin reads everything anyway).
pub async fn change_role(
    env: Env<'_>,
    caller: &Caller,
    id: uuid::Uuid,
    req: &RoleChange,
) -> DomainResult<Person> {
    let tenant = caller.tenant;
    let mut u = user(env, tenant, id).await?;
    if !u.active() {
        return Err(DomainError::conflict(
            ErrorCode::UserDeactivated,
            format!("{} was deactivated", u.display_name),
        ));
    }
    if u.role != req.role {
        if u.role == Role::Admin {
            keep_an_admin(env, tenant, u.user_id).await?;
        }
        let from = u.role;
        u.role = req.role;
        env.stores.identity.put_user(tenant, &u).await?;
        end_all_sessions(env, tenant, u.user_id).await?;
        caller
            .audit(
                env,
                "user.role",
                Some(format!("{}: {from:?} -> {:?}", u.user_id, req.role)),
            )
            .await?;
    }
    get(env, caller, id).await
}

async fn end_all_sessions(env: Env<'_>, tenant: TenantId, id: uuid::Uuid) -> DomainResult<u32> {
    let mut n = 0;
    for d in env.stores.devices.list_devices(tenant).await? {
        if d.user_id == id {
            n += env
                .stores
                .devices
                .revoke_device_sessions(tenant, d.device_id)
                .await?;
        }
    }
    Ok(n)
}

/// Deactivates a leaver, in steps a retry completes: the user is marked deactivated first (no
/// passkey of theirs signs in from then on), then every device is revoked (sessions ended, wipe
/// queued, one key rotation), then they leave every care team. History (audit, authored
/// records) is kept.
pub async fn deactivate(
    env: Env<'_>,
    caller: &Caller,
    id: uuid::Uuid,
    req: &Deactivation,
) -> DomainResult<Deactivated> {
    let tenant = caller.tenant;
    let reason = clean_reason(Some(&req.reason))?.ok_or_else(|| {
        DomainError::invalid(
            ErrorCode::ReasonRequired,
            "type why the user is deactivated",
        )
    })?;
    let mut u = user(env, tenant, id).await?;
    if u.role == Role::Admin && u.active() {
        keep_an_admin(env, tenant, u.user_id).await?;
    }
    let first = u.deactivated_at_ms.is_none();
    let at = *u.deactivated_at_ms.get_or_insert(env.now());
    if first {
        env.stores.identity.put_user(tenant, &u).await?;
        caller
            .audit(
                env,
                "user.deactivate",
                Some(format!("{}: {reason}", u.user_id)),
            )
            .await?;
    }
    let devices: Vec<Device> = env
        .stores
        .devices
        .list_devices(tenant)
        .await?
        .into_iter()
        .filter(|d| d.user_id == u.user_id)
        .collect();
    let (devices_revoked, mut sessions_ended, _) =
        super::revocation::revoke_all(env, caller, &devices, false).await?;
    sessions_ended += end_all_sessions(env, tenant, u.user_id).await?;
    let mut teams_left = 0;
    for client in env.stores.identity.caseload(tenant, u.user_id).await? {
        if env
            .stores
            .identity
            .remove_care_team(tenant, client, u.user_id)
            .await?
        {
            teams_left += 1;
        }
    }
    Ok(Deactivated {
        user_id: u.user_id,
        deactivated_at_ms: at,
        devices_revoked,
        sessions_ended,
        teams_left,
    })
}

/// A user's sessions (admins, or the user themself), live ones, newest first.
pub async fn sessions(
    env: Env<'_>,
    caller: &Caller,
    id: uuid::Uuid,
) -> DomainResult<Vec<SessionInfo>> {
    if caller.role() != Role::Admin && caller.session.user_id != id {
        return Err(DomainError::forbidden(
            "only admins see another user's sessions",
        ));
    }
    let devices: Vec<Device> = env
        .stores
        .devices
        .list_devices(caller.tenant)
        .await?
        .into_iter()
        .filter(|d| d.user_id == id)
        .collect();
    live_sessions(env, caller.tenant, &devices).await
}

/// Whether a session ended.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionEnded {
    /// Always true (a session already ended answers the same).
    pub ended: bool,
}

/// Ends one session (admins, or the device's own user) without revoking the device: it can
/// sign in again with its passkey.
pub async fn end_session(
    env: Env<'_>,
    caller: &Caller,
    device: DeviceId,
    session_id: &str,
) -> DomainResult<SessionEnded> {
    let tenant = caller.tenant;
    let d = env
        .stores
        .devices
        .get_device(tenant, device)
        .await?
        .ok_or_else(|| DomainError::not_found("no such session"))?;
    if caller.role() != Role::Admin && d.user_id != caller.session.user_id {
        return Err(DomainError::not_found("no such session"));
    }
    if env
        .stores
        .devices
        .get_session(tenant, device, session_id)
        .await?
        .is_none()
    {
        return Err(DomainError::not_found("no such session"));
    }
    if env
        .stores
        .devices
        .end_session(tenant, device, session_id)
        .await?
    {
        caller
            .audit(env, "session.end", Some(format!("{device}#{session_id}")))
            .await?;
    }
    Ok(SessionEnded { ended: true })
}
