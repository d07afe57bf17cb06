//! Devices: the list, approval, state transitions, and the one rule that decides whether a
//! device may still talk to the server at all ([`admission`]).

use serde::Serialize;
use ward_proto::DeviceId;
use ward_proto::errors::ErrorCode;
use ward_proto::wipe::SignedWipe;

use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{Device, DeviceStatus};

/// What a device's lifecycle state allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Pending or active: its sessions work (pending ones only for `/me` and the like).
    Admitted,
    /// Revoked with a wipe not yet confirmed: it is answered with this signed wipe command
    /// (and may only make its rescue upload and send its receipt).
    MustWipe(Box<SignedWipe>),
    /// Revoked (with no wipe pending) or wiped: refused.
    Refused,
}

/// **Where a revoked device is refused**: both request authentication (`api::auth`) and passkey
/// login ([`super::identity::login_finish`]) ask this.
pub fn admission(device: &Device) -> Admission {
    match (&device.status, &device.wipe) {
        (DeviceStatus::Revoked, Some(w)) if w.receipt.is_none() => {
            Admission::MustWipe(Box::new(w.signed.clone()))
        }
        (DeviceStatus::Revoked | DeviceStatus::Wiped, _) => Admission::Refused,
        (DeviceStatus::Pending | DeviceStatus::Active, _) => Admission::Admitted,
    }
}

/// Every device of the caller's tenant.
pub async fn list(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<Device>> {
    Ok(env.stores.devices.list_devices(caller.tenant).await?)
}

/// Moves `device` from one of `from` to `to` (404 if unknown, 409 `invalid_state` if not in
/// `from`) and audits `action`.
pub async fn transition(
    env: Env<'_>,
    caller: &Caller,
    device: DeviceId,
    from: &[DeviceStatus],
    to: DeviceStatus,
    action: &str,
) -> DomainResult<()> {
    let tenant = caller.tenant;
    if env
        .stores
        .devices
        .get_device(tenant, device)
        .await?
        .is_none()
    {
        return Err(DomainError::not_found("no such device"));
    }
    if !env
        .stores
        .devices
        .set_device_status(tenant, device, from, to)
        .await?
    {
        return Err(DomainError::conflict(
            ErrorCode::InvalidState,
            format!("device cannot go to {to:?} from its current state"),
        ));
    }
    caller.audit(env, action, Some(device.to_string())).await
}

/// A device's new state.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Approved {
    /// The device.
    pub device_id: DeviceId,
    /// Its new state (`active`).
    pub status: DeviceStatus,
}

/// Approves a pending device.
pub async fn approve(env: Env<'_>, caller: &Caller, device: DeviceId) -> DomainResult<Approved> {
    transition(
        env,
        caller,
        device,
        &[DeviceStatus::Pending],
        DeviceStatus::Active,
        "device.approve",
    )
    .await?;
    Ok(Approved {
        device_id: device,
        status: DeviceStatus::Active,
    })
}
