//! Who the caller is, and invites: the small identity rules that are not passkey ceremonies
//! (those are in [`super::identity`]).

use serde::Deserialize;
use ward_proto::errors::ErrorCode;

use super::identity::{InviteCreated, audit};
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::Role;
use crate::tenants;
use ward_proto::api::Me;

/// Who the caller is, its device state, the tenant epoch and policy (pending devices poll
/// this).
pub async fn me(env: Env<'_>, caller: &Caller) -> DomainResult<Me> {
    let tenant = caller.tenant;
    let t = env
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| DomainError::not_found("no such tenant"))?;
    Ok(Me {
        user_id: caller.session.user_id,
        role: caller.role(),
        device_id: caller.device.device_id,
        device_status: caller.device.status,
        current_epoch: t.current_epoch,
        policy: t.policy,
    })
}

/// New invite.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NewInvite {
    /// Role to grant.
    pub role: Role,
    /// Invitee's name.
    pub display_name: String,
}

/// Issues a one-time invite code.
pub async fn create_invite(
    env: Env<'_>,
    caller: &Caller,
    req: &NewInvite,
) -> DomainResult<InviteCreated> {
    let tenant = caller.tenant;
    // Making another admin is as consequential as revoking: a fresh passkey assertion.
    if req.role == Role::Admin {
        caller.require_step_up(env.now())?;
    }
    let name = super::text::clean_name(&req.display_name, true).map_err(|e| {
        DomainError::invalid(ErrorCode::InvalidDisplayName, format!("display_name {e}"))
    })?;
    let expires = env.now() + env.config.invite_ttl_ms;
    let code = tenants::invite(
        env.stores,
        tenant,
        req.role,
        name,
        &caller.actor(),
        expires,
        false,
    )
    .await?;
    audit(
        env,
        tenant,
        &caller.actor(),
        Some(caller.device.device_id),
        "invite.create",
        None,
    )
    .await?;
    Ok(InviteCreated {
        code,
        expires_at_ms: expires,
    })
}
