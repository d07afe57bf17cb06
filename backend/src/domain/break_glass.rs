//! Break-glass: emergency access to a client whose care team the clinician is not on (HIPAA
//! §164.312(a)(2)(ii)). Granted at once, with a typed reason, for the clinic policy's
//! `break_glass_minutes` (0 switches it off); audited; shown to the admins as an alert until one
//! acknowledges it; it ends by itself (access is checked against its expiry on every request,
//! and the device drops the client at its next contact after that, through the access tag).

use ward_proto::errors::ErrorCode;
use ward_proto::people::BreakGlassRequest;
use ward_proto::{ObjectId, TenantId};

use super::teams::{clean_reason, require_client};
use super::{Caller, DomainError, DomainResult, Env, audit};
use crate::model::{BreakGlassGrant, Role};
use crate::tenants::random_token;

/// The audit action of a grant.
pub const BREAK_GLASS: &str = "break_glass.grant";
/// The audit action of an admin's acknowledgement.
pub const BREAK_GLASS_ACK: &str = "break_glass.acknowledge";
/// Shortest accepted reason, in characters: a word or two is not a reason.
pub const MIN_REASON_CHARS: usize = 10;

/// Grants the caller emergency access to `client`.
pub async fn grant(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &BreakGlassRequest,
) -> DomainResult<BreakGlassGrant> {
    caller.require_active()?;
    let tenant = caller.tenant;
    let policy = env.tenant(tenant).await?.policy;
    if policy.break_glass_minutes == 0 {
        return Err(DomainError::Refused {
            code: ErrorCode::BreakGlassDisabled,
            message: "this clinic has switched emergency (break-glass) access off".into(),
        });
    }
    if caller.role() != Role::Clinician {
        return Err(DomainError::forbidden(
            "break-glass is for clinicians (admins already read every client)",
        ));
    }
    let reason = clean_reason(Some(&req.reason))?
        .filter(|r| r.chars().count() >= MIN_REASON_CHARS)
        .ok_or_else(|| {
            DomainError::invalid(
                ErrorCode::ReasonRequired,
                format!(
                    "type why you need emergency access (at least {MIN_REASON_CHARS} characters)"
                ),
            )
        })?;
    require_client(env, tenant, client).await?;
    let user = caller.session.user_id;
    if env
        .stores
        .identity
        .on_care_team(tenant, client, user)
        .await?
    {
        return Err(DomainError::conflict(
            ErrorCode::AlreadyMember,
            "you are on this client's care team: no emergency access is needed",
        ));
    }
    let display_name = env
        .stores
        .identity
        .get_user(tenant, user)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_else(|| user.to_string());
    let now = env.now();
    let g = BreakGlassGrant {
        // Time-ordered, so the store lists grants oldest first.
        grant_id: format!("{now:013}-{}", random_token(9)?),
        client_id: client,
        user_id: user,
        display_name,
        device_id: caller.device.device_id,
        reason: reason.clone(),
        granted_at_ms: now,
        expires_at_ms: now + i64::from(policy.break_glass_minutes) * 60_000,
        acknowledged_by: None,
        acknowledged_at_ms: None,
    };
    env.stores.identity.put_break_glass(tenant, &g).await?;
    let mut e = audit::entry(env, caller, BREAK_GLASS, Some(reason));
    e.client = Some(client);
    env.stores.audit.append_entries(tenant, &[e]).await?;
    tracing::warn!(tenant = %tenant, client = %client, user = %user, "break-glass access granted");
    Ok(g)
}

/// Every grant of the clinic, newest first (admins).
pub async fn list(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<BreakGlassGrant>> {
    let mut all = env.stores.identity.list_break_glass(caller.tenant).await?;
    all.reverse();
    Ok(all)
}

async fn find(env: Env<'_>, tenant: TenantId, grant: &str) -> DomainResult<BreakGlassGrant> {
    env.stores
        .identity
        .list_break_glass(tenant)
        .await?
        .into_iter()
        .find(|g| g.grant_id == grant)
        .ok_or_else(|| DomainError::not_found("no such break-glass grant"))
}

/// An admin acknowledges the alert (once; a second acknowledgement answers the first).
pub async fn acknowledge(
    env: Env<'_>,
    caller: &Caller,
    grant: &str,
) -> DomainResult<BreakGlassGrant> {
    let mut g = find(env, caller.tenant, grant).await?;
    if g.acknowledged_at_ms.is_some() {
        return Ok(g);
    }
    g.acknowledged_by = Some(caller.session.user_id);
    g.acknowledged_at_ms = Some(env.now());
    env.stores
        .identity
        .put_break_glass(caller.tenant, &g)
        .await?;
    let mut e = audit::entry(env, caller, BREAK_GLASS_ACK, Some(g.grant_id.clone()));
    e.client = Some(g.client_id);
    env.stores.audit.append_entries(caller.tenant, &[e]).await?;
    Ok(g)
}
