//! Device lifecycle after approval: revocation and its side effects (sessions, key rotation,
//! the signed wipe command), tenant lockdown, the revoked device's rescue upload and wipe
//! receipt, and the quarantine an admin reviews.
//!
//! Revoking a device kills its sessions, moves the tenant key to a new epoch
//! ([`super::keys::rotate_epoch`]: released only to devices still active, so the revoked phone's
//! keys cannot open anything written afterwards), and queues a [`WipeCommand`] signed with the
//! tenant's wipe key, which the device pinned at enrollment. The device receives it as
//! `410 wipe_required` at its next request (see [`super::devices::admission`]), may upload its
//! unsynced records once to quarantine (tenant policy `rescue_on_wipe`), shreds its vault and
//! sends a receipt signed with its own device key; the admin then sees "wiped at …" and accepts
//! each rescued version into the record or rejects it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use ward_proto::api::{MAX_PUSH_OBJECTS, PushRequest, PushResult, PushStatus};
use ward_proto::errors::ErrorCode;
use ward_proto::wipe::{SignedReceipt, WipeCommand, WipeSigner};
use ward_proto::{DeviceId, Kind, TenantId, VersionId};

use super::keys::rotate_epoch;
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{
    DeviceStatus, QuarantineItem, QuarantineStatus, StoredObject, Tenant, WipeReceiptRecord,
    WipeState,
};

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
        .unwrap_tenant_key(t.id, &t.key_ref, &wipe_key.wrapped_seed)
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
    /// Sessions killed.
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
    /// The queued wipe command.
    pub wipe_command_id: Option<String>,
}

/// The side effects of revoking `device` (already moved to `revoked`): sessions, wipe command.
/// The caller rotates the key (once, also for a lockdown of many devices).
pub async fn after_revoke(
    env: Env<'_>,
    t: &Tenant,
    device: DeviceId,
) -> DomainResult<(u32, Option<String>)> {
    let killed = env
        .stores
        .devices
        .revoke_device_sessions(t.id, device)
        .await?;
    let command = queue_wipe(env, t, device).await?;
    Ok((killed, command))
}

/// Revokes one device (pending or active): status, sessions, wipe command, key rotation.
pub async fn revoke_device(
    env: Env<'_>,
    caller: &Caller,
    device: DeviceId,
) -> DomainResult<Revoked> {
    super::devices::transition(
        env,
        caller,
        device,
        &[DeviceStatus::Pending, DeviceStatus::Active],
        DeviceStatus::Revoked,
        "device.revoke",
    )
    .await?;
    let t = env.tenant(caller.tenant).await?;
    let (sessions_revoked, wipe_command_id) = after_revoke(env, &t, device).await?;
    let epoch = rotate_epoch(env, caller.tenant).await?;
    caller
        .audit(env, "tenant_key.rotate", Some(format!("epoch {epoch}")))
        .await?;
    Ok(Revoked {
        device_id: device,
        status: DeviceStatus::Revoked,
        sessions_revoked,
        epoch,
        wipe_command_id,
    })
}

/// Result of a lockdown.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Lockdown {
    /// Devices revoked (every device but the caller's).
    pub devices_revoked: u32,
    /// Sessions killed, the caller's own included.
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
}

/// Revokes every device but the caller's, queues their wipes, rotates the key once, and ends
/// every session — the caller's too (its device stays enrolled so the admin can sign in again
/// with the passkey).
pub async fn lockdown(env: Env<'_>, caller: &Caller) -> DomainResult<Lockdown> {
    let tenant = caller.tenant;
    let t = env.tenant(tenant).await?;
    let own = caller.device.device_id;
    let (mut devices_revoked, mut sessions_revoked) = (0u32, 0u32);
    for d in env.stores.devices.list_devices(tenant).await? {
        if d.device_id == own {
            continue;
        }
        let moved = env
            .stores
            .devices
            .set_device_status(
                tenant,
                d.device_id,
                &[DeviceStatus::Pending, DeviceStatus::Active],
                DeviceStatus::Revoked,
            )
            .await?;
        if moved {
            let (killed, _) = after_revoke(env, &t, d.device_id).await?;
            devices_revoked += 1;
            sessions_revoked += killed;
            caller
                .audit(env, "device.revoke", Some(d.device_id.to_string()))
                .await?;
        }
    }
    let epoch = rotate_epoch(env, tenant).await?;
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

/// Versions rescued by revoked devices.
pub async fn quarantine(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<QuarantineItem>> {
    Ok(env.stores.lifecycle.list_quarantine(caller.tenant).await?)
}

/// Accepts (into the record) or rejects a pending quarantined version.
pub async fn decide(
    env: Env<'_>,
    caller: &Caller,
    version: VersionId,
    to: QuarantineStatus,
) -> DomainResult<QuarantineItem> {
    let tenant = caller.tenant;
    let item = env
        .stores
        .lifecycle
        .decide_quarantine(tenant, version, to, env.now())
        .await?
        .ok_or_else(|| {
            DomainError::conflict(
                ErrorCode::AlreadyDecided,
                "no pending quarantined version with this id",
            )
        })?;
    if to == QuarantineStatus::Accepted {
        accept_into_record(env, tenant, &item).await?;
    }
    let action = match to {
        QuarantineStatus::Accepted => "quarantine.accept",
        _ => "quarantine.reject",
    };
    caller
        .audit(env, action, Some(item.version_id.to_string()))
        .await?;
    Ok(item)
}

/// Stores an accepted version in the change feed, as if its device had pushed it.
async fn accept_into_record(
    env: Env<'_>,
    tenant: TenantId,
    item: &QuarantineItem,
) -> DomainResult<()> {
    use ring::digest::{SHA256, digest};
    let envelope = URL_SAFE_NO_PAD
        .decode(&item.envelope)
        .map_err(DomainError::internal)?;
    let stored = StoredObject {
        object_id: item.object_id,
        version_id: item.version_id,
        kind: item.kind,
        client_id: item.client_id,
        parent_version: item.parent_version,
        seq: 0,
        sha256: hex::encode(digest(&SHA256, &envelope)),
        size: envelope.len() as u64,
        envelope: Some(envelope),
        device_id: item.device_id,
        created_at_ms: env.now(),
    };
    env.stores.objects.put_objects(tenant, &[stored]).await?;
    // A client record created offline on the lost phone: its author joins the care team, as
    // a push would have done.
    if Kind::from_u8(item.kind) == Some(Kind::Client)
        && let Some(d) = env
            .stores
            .devices
            .get_device(tenant, item.device_id)
            .await?
    {
        env.stores
            .identity
            .add_care_team(tenant, item.object_id, d.user_id)
            .await?;
    }
    Ok(())
}

/// A revoked device's rescue upload (its wipe pending): its unsynced record versions, checked
/// like a push and kept apart for an admin's decision.
pub async fn rescue(
    env: Env<'_>,
    caller: &Caller,
    req: &PushRequest,
) -> DomainResult<Vec<PushResult>> {
    let tenant = caller.tenant;
    if req.objects.len() > MAX_PUSH_OBJECTS {
        return Err(DomainError::invalid(
            ErrorCode::TooManyObjects,
            format!("at most {MAX_PUSH_OBJECTS} versions per request"),
        ));
    }
    let mut results = Vec::with_capacity(req.objects.len());
    let mut stored_count = 0u32;
    for (i, item) in req.objects.iter().enumerate() {
        let c = match super::sync::validate(env, caller, i, item) {
            Ok(c) => c,
            Err(rejected) => {
                results.push(rejected);
                continue;
            }
        };
        let s = c.stored;
        let q = QuarantineItem {
            object_id: s.object_id,
            version_id: s.version_id,
            kind: s.kind,
            client_id: s.client_id,
            parent_version: s.parent_version,
            device_id: caller.device.device_id,
            received_at_ms: env.now(),
            status: QuarantineStatus::Pending,
            decided_at_ms: None,
            envelope: item.envelope.trim_end_matches('=').to_string(),
        };
        let fresh = env.stores.lifecycle.put_quarantine(tenant, &q).await?;
        stored_count += u32::from(fresh);
        results.push(PushResult {
            object_id: s.object_id,
            version_id: s.version_id,
            status: if fresh {
                PushStatus::Created
            } else {
                PushStatus::Duplicate
            },
            seq: None,
            reason: None,
        });
    }
    caller
        .audit(
            env,
            "wipe.rescue",
            Some(format!("{stored_count} versions quarantined")),
        )
        .await?;
    Ok(results)
}

/// Refuses a rescue upload unless the device's wipe is pending and allows one. Checked before
/// the body is read.
pub fn may_rescue(caller: &Caller) -> DomainResult<()> {
    if caller.require_wiping()?.rescue {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "the clinic's policy does not rescue records on wipe",
        ))
    }
}

/// A revoked device's signed wipe receipt: verified, recorded; the device becomes `wiped`.
pub async fn wipe_receipt(
    env: Env<'_>,
    caller: &Caller,
    wipe: WipeState,
    signed: SignedReceipt,
) -> DomainResult<WipeState> {
    let tenant = caller.tenant;
    let receipt = signed
        .verify(&caller.device.public_key, tenant, caller.device.device_id)
        .map_err(|e| DomainError::invalid(ErrorCode::BadReceipt, e.to_string()))?;
    if receipt.command_id != wipe.command_id {
        return Err(DomainError::invalid(
            ErrorCode::BadReceipt,
            "the receipt names another wipe command",
        ));
    }
    let mut done = wipe;
    done.receipt = Some(WipeReceiptRecord {
        wiped_at_ms: receipt.wiped_at_ms,
        received_at_ms: env.now(),
        rescued_versions: receipt.rescued_versions,
        unrescued_photos: receipt.unrescued_photos,
        signed,
    });
    env.stores
        .lifecycle
        .set_device_wipe(tenant, caller.device.device_id, &done)
        .await?;
    env.stores
        .devices
        .set_device_status(
            tenant,
            caller.device.device_id,
            &[DeviceStatus::Revoked],
            DeviceStatus::Wiped,
        )
        .await?;
    caller
        .audit(
            env,
            "device.wiped",
            Some(format!(
                "{} rescued, {} photos lost",
                receipt.rescued_versions, receipt.unrescued_photos
            )),
        )
        .await?;
    Ok(done)
}
