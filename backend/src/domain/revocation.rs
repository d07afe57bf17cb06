//! Revocation and lockdown as a resumable sequence of idempotent steps.
//!
//! Revoking a device is: **status → revoked** (from then on the device is refused or told to
//! wipe; never half-admitted), then a [`Revocation`] record (the tenant key epoch read *after*
//! the device stopped being active), then **sessions ended**, **wipe command queued** (signed
//! with the tenant's wipe key, pinned by the device at enrollment) and **tenant key rotated**
//! past that epoch (released only to devices still active, so the revoked phone's keys open
//! nothing written afterwards), then the record is marked complete.
//!
//! Every step is idempotent and checks whether it is already done, so a step that fails (KMS
//! throttling, a contended rotation, a storage error) leaves a state that any of three
//! carries on from: the retry of the same request (which answers the revocation, not 409), the
//! revoked device's own next contact ([`resume`], called by request authentication), and the
//! [`sweep`] that the local server runs every minute and the infrastructure runs on a schedule.
//! "Revoked" therefore always ends as "wipe queued + sessions ended + key rotated".

use serde::Serialize;
use ward_proto::errors::ErrorCode;
use ward_proto::wipe::{WipeCommand, WipeSigner};
use ward_proto::{DeviceId, TenantId};

use super::keys::rotate_epoch;
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{AuditRecord, Device, DeviceStatus, Revocation, Tenant, WipeState};

/// Who asked: an admin's request, or the system (device contact, sweeper).
#[derive(Clone, Copy)]
enum Actor<'a> {
    Admin(&'a Caller),
    System,
}

impl Actor<'_> {
    async fn audit(
        self,
        env: Env<'_>,
        tenant: TenantId,
        action: &str,
        target: String,
    ) -> DomainResult<()> {
        match self {
            Actor::Admin(c) => c.audit(env, action, Some(target)).await,
            Actor::System => {
                let r = AuditRecord {
                    at_ms: env.now(),
                    actor: "system:revocation".into(),
                    device_id: None,
                    action: action.into(),
                    target: Some(target),
                };
                Ok(env.stores.audit.append(tenant, &r).await?)
            }
        }
    }
}

/// Signs and records a wipe command for `device`; returns its id (`None` for a tenant created
/// before wipe keys existed: the device is still revoked, but cannot be told to wipe).
pub async fn queue_wipe(
    env: Env<'_>,
    t: &Tenant,
    device: DeviceId,
) -> DomainResult<Option<String>> {
    let Some(wipe_key) = &t.wipe_key else {
        tracing::warn!(tenant = %t.id, "tenant has no wipe key: revoked device gets no wipe");
        return Ok(None);
    };
    let seed = env
        .stores
        .keys
        .unwrap_tenant_key(t.id, &t.key_ref, wipe_key.purpose(), &wipe_key.wrapped_seed)
        .await?;
    let signer = WipeSigner::from_seed(&seed).map_err(DomainError::internal)?;
    let command = WipeCommand {
        version: 1,
        tenant: t.id,
        device,
        command_id: crate::tenants::random_token(12)?,
        issued_at_ms: env.now(),
        rescue: t.policy.rescue_on_wipe,
    };
    let signed = signer.sign(&command).map_err(DomainError::internal)?;
    let wipe = WipeState {
        command_id: command.command_id.clone(),
        issued_at_ms: command.issued_at_ms,
        rescue: command.rescue,
        signed,
        receipt: None,
    };
    env.stores
        .lifecycle
        .set_device_wipe(t.id, device, &wipe)
        .await?;
    Ok(Some(command.command_id))
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Revoked {
    /// The device.
    pub device_id: DeviceId,
    /// Its new state.
    pub status: DeviceStatus,
    /// Sessions ended by this request (0 when a retry finds them ended already).
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
    /// The queued wipe command.
    pub wipe_command_id: Option<String>,
}

/// Whether a device's revocation still has steps to do.
pub fn unfinished(d: &Device) -> bool {
    d.status == DeviceStatus::Revoked
        && d.revocation
            .as_ref()
            .is_none_or(|r| r.completed_at_ms.is_none())
}

/// Moves `device` to revoked if it is pending or active. `Ok(false)`: it was revoked already
/// (a retry). Wiped or unknown devices are refused.
async fn mark_revoked(env: Env<'_>, tenant: TenantId, device: DeviceId) -> DomainResult<bool> {
    let moved = env
        .stores
        .devices
        .set_device_status(
            tenant,
            device,
            &[DeviceStatus::Pending, DeviceStatus::Active],
            DeviceStatus::Revoked,
        )
        .await?;
    if moved {
        return Ok(true);
    }
    match env.stores.devices.get_device(tenant, device).await? {
        None => Err(DomainError::not_found("no such device")),
        Some(d) if d.status == DeviceStatus::Revoked => Ok(false),
        Some(d) => Err(DomainError::conflict(
            ErrorCode::InvalidState,
            format!("device cannot be revoked from {:?}", d.status),
        )),
    }
}

/// The steps before the rotation (record, sessions, wipe), each skipped when done. Returns the
/// record, sessions ended and the wipe command id.
async fn steps_before_rotation(
    env: Env<'_>,
    actor: Actor<'_>,
    t: &Tenant,
    device: DeviceId,
) -> DomainResult<(Revocation, u32, Option<String>)> {
    let d = env
        .stores
        .devices
        .get_device(t.id, device)
        .await?
        .ok_or_else(|| DomainError::not_found("no such device"))?;
    let rev = match d.revocation {
        Some(r) => r,
        None => {
            // Read after the status change: a rotation before it may have reached the device.
            let current = env.tenant(t.id).await?.current_epoch;
            let r = Revocation {
                revoked_at_ms: env.now(),
                epoch_at_revoke: current,
                completed_at_ms: None,
            };
            env.stores
                .lifecycle
                .set_device_revocation(t.id, device, &r)
                .await?;
            actor
                .audit(env, t.id, "device.revoke", device.to_string())
                .await?;
            r
        }
    };
    if rev.completed_at_ms.is_some() {
        return Ok((rev, 0, d.wipe.map(|w| w.command_id)));
    }
    let killed = env
        .stores
        .devices
        .revoke_device_sessions(t.id, device)
        .await?;
    let command = match d.wipe {
        Some(w) => Some(w.command_id),
        None => queue_wipe(env, t, device).await?,
    };
    Ok((rev, killed, command))
}

/// Rotates the tenant key unless a rotation already happened after every one of `revs`.
async fn rotate_past(
    env: Env<'_>,
    actor: Actor<'_>,
    tenant: TenantId,
    revs: &[&Revocation],
) -> DomainResult<u32> {
    let current = env.tenant(tenant).await?.current_epoch;
    // (A lockdown with no other device still rotates: that is what it was asked for.)
    if !revs.is_empty() && revs.iter().all(|r| current > r.epoch_at_revoke) {
        return Ok(current);
    }
    let epoch = rotate_epoch(env, tenant).await?;
    actor
        .audit(env, tenant, "tenant_key.rotate", format!("epoch {epoch}"))
        .await?;
    Ok(epoch)
}

async fn mark_complete(
    env: Env<'_>,
    tenant: TenantId,
    device: DeviceId,
    mut rev: Revocation,
) -> DomainResult<()> {
    if rev.completed_at_ms.is_none() {
        rev.completed_at_ms = Some(env.now());
        env.stores
            .lifecycle
            .set_device_revocation(tenant, device, &rev)
            .await?;
    }
    Ok(())
}

/// Runs every remaining step of `device`'s revocation (already marked revoked).
async fn finish(
    env: Env<'_>,
    actor: Actor<'_>,
    t: &Tenant,
    device: DeviceId,
) -> DomainResult<Revoked> {
    let (rev, sessions_revoked, wipe_command_id) =
        steps_before_rotation(env, actor, t, device).await?;
    let epoch = rotate_past(env, actor, t.id, &[&rev]).await?;
    super::client_keys::rotate_for_revoked(env, t.id, device, rev.revoked_at_ms).await?;
    mark_complete(env, t.id, device, rev).await?;
    Ok(Revoked {
        device_id: device,
        status: DeviceStatus::Revoked,
        sessions_revoked,
        epoch,
        wipe_command_id,
    })
}

/// Revokes one device (pending or active), or finishes the revocation a failed request left:
/// status, sessions, wipe command, key rotation. Retrying after success answers the same
/// revocation (idempotent); a wiped device is 409 `invalid_state`.
pub async fn revoke_device(
    env: Env<'_>,
    caller: &Caller,
    device: DeviceId,
) -> DomainResult<Revoked> {
    mark_revoked(env, caller.tenant, device).await?;
    let t = env.tenant(caller.tenant).await?;
    finish(env, Actor::Admin(caller), &t, device).await
}

/// Finishes `device`'s revocation if a step is left (called when the revoked device makes
/// contact, so it is answered with its wipe command).
pub async fn resume(
    env: Env<'_>,
    tenant: TenantId,
    device: &Device,
) -> DomainResult<Option<Device>> {
    if !unfinished(device) {
        return Ok(None);
    }
    let t = env.tenant(tenant).await?;
    finish(env, Actor::System, &t, device.device_id).await?;
    Ok(env
        .stores
        .devices
        .get_device(tenant, device.device_id)
        .await?)
}

/// Finishes every unfinished revocation of every tenant; returns how many it finished. A
/// failure is logged and left for the next sweep.
pub async fn sweep(env: Env<'_>) -> DomainResult<u32> {
    let mut done = 0u32;
    for t in env.stores.tenants.list_tenants().await? {
        if t.offboarded_at_ms.is_some() {
            continue;
        }
        for d in env.stores.devices.list_devices(t.id).await? {
            if !unfinished(&d) {
                continue;
            }
            match finish(env, Actor::System, &t, d.device_id).await {
                Ok(_) => done += 1,
                Err(e) => {
                    tracing::warn!(tenant = %t.id, device = %d.device_id, error = %e,
                        "revocation still unfinished; the next sweep tries again");
                }
            }
        }
    }
    Ok(done)
}

/// Result of a lockdown.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Lockdown {
    /// Devices revoked (every device but the caller's), counting ones a failed earlier
    /// lockdown had started on.
    pub devices_revoked: u32,
    /// Sessions ended, the caller's own included.
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
}

/// Revokes every device but the caller's, queues their wipes, rotates the key once, and ends
/// every session — the caller's too (its device stays enrolled so the admin can sign in again
/// with the passkey). A retry after a failure finishes what the failed attempt started.
pub async fn lockdown(env: Env<'_>, caller: &Caller) -> DomainResult<Lockdown> {
    let tenant = caller.tenant;
    let own = caller.device.device_id;
    let others: Vec<Device> = env
        .stores
        .devices
        .list_devices(tenant)
        .await?
        .into_iter()
        .filter(|d| d.device_id != own)
        .collect();
    let (devices_revoked, mut sessions_revoked, epoch) =
        revoke_all(env, caller, &others, true).await?;
    caller
        .audit(
            env,
            "tenant.lockdown",
            Some(format!("{devices_revoked} devices, epoch {epoch}")),
        )
        .await?;
    sessions_revoked += env
        .stores
        .devices
        .revoke_device_sessions(tenant, own)
        .await?;
    Ok(Lockdown {
        devices_revoked,
        sessions_revoked,
        epoch,
    })
}

/// Revokes each of `devices` that is pending or active (or whose revocation a failed request
/// left unfinished): status, sessions, wipe command, then **one** key rotation past them all.
/// Returns (devices revoked, sessions ended, epoch after). A retry finishes what a failed call
/// started. Lockdown (`rotate_anyway`: it rotates even with no other device) and a user's
/// deactivation use it.
pub async fn revoke_all(
    env: Env<'_>,
    caller: &Caller,
    devices: &[Device],
    rotate_anyway: bool,
) -> DomainResult<(u32, u32, u32)> {
    let tenant = caller.tenant;
    let t = env.tenant(tenant).await?;
    let actor = Actor::Admin(caller);
    let mut started = Vec::new();
    let mut sessions_revoked = 0u32;
    for d in devices {
        let to_do =
            matches!(d.status, DeviceStatus::Pending | DeviceStatus::Active) || unfinished(d);
        if !to_do {
            continue;
        }
        mark_revoked(env, tenant, d.device_id).await?;
        let (rev, killed, _) = steps_before_rotation(env, actor, &t, d.device_id).await?;
        sessions_revoked += killed;
        started.push((d.device_id, rev));
    }
    if started.is_empty() && !rotate_anyway {
        return Ok((0, 0, t.current_epoch));
    }
    let revs: Vec<&Revocation> = started.iter().map(|(_, r)| r).collect();
    let epoch = rotate_past(env, actor, tenant, &revs).await?;
    let devices_revoked = u32::try_from(started.len()).unwrap_or(u32::MAX);
    for (device, rev) in started {
        super::client_keys::rotate_for_revoked(env, tenant, device, rev.revoked_at_ms).await?;
        mark_complete(env, tenant, device, rev).await?;
    }
    Ok((devices_revoked, sessions_revoked, epoch))
}
