//! Care teams: which clinicians treat which client, managed by the clinic. **Who may read a
//! client's data is decided here**, on every request, from the membership rows and unexpired
//! break-glass grants ([`access_of`]); a device learns its access with every pull page's
//! `access_tag` and drops, at its next contact, every client it may no longer read.
//!
//! Who manages a team: admins; front desk (who register patients and assign their treating
//! clinicians, in the same push as the client record, `assign_at_creation`); and the
//! clinicians on that client's team when the clinic policy `team_members_manage` allows.
//! Members are active clinicians. Every change is an audit event naming who, whom, which
//! client and why.

use std::collections::BTreeMap;

use ward_proto::errors::ErrorCode;
use ward_proto::people::{
    AccessVia, CareTeam, ClientAccess, Handover, MyClients, TeamChange, TeamMember,
};
use ward_proto::{Kind, ObjectId, TenantId};

use super::{Caller, DomainError, DomainResult, Env, audit};
use crate::model::{BreakGlassGrant, Role, User};

/// Longest reason, in bytes.
pub const MAX_REASON_BYTES: usize = 500;

/// A team change was made.
pub const TEAM_ADD: &str = "team.add";
/// A member was removed.
pub const TEAM_REMOVE: &str = "team.remove";
/// A client was handed over.
pub const TEAM_HANDOVER: &str = "team.handover";

/// The trimmed reason (`None` when blank), or 400 if too long or with control characters.
pub fn clean_reason(reason: Option<&str>) -> DomainResult<Option<String>> {
    let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if r.len() > MAX_REASON_BYTES {
        return Err(DomainError::invalid(
            ErrorCode::BadBody,
            format!("reason is longer than {MAX_REASON_BYTES} bytes"),
        ));
    }
    if r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid(
            ErrorCode::BadBody,
            "reason has control characters",
        ));
    }
    Ok(Some(r.to_string()))
}

/// 404 unless `client` is a client record of the tenant.
pub async fn require_client(env: Env<'_>, tenant: TenantId, client: ObjectId) -> DomainResult<()> {
    match env.stores.objects.any_version(tenant, client).await? {
        Some(v) if v.kind == Kind::Client as u8 => Ok(()),
        _ => Err(DomainError::not_found("no such client")),
    }
}

/// A user who may join a care team: exists (404), active (409), a clinician (400).
async fn clinician(env: Env<'_>, tenant: TenantId, user: uuid::Uuid) -> DomainResult<User> {
    let u = env
        .stores
        .identity
        .get_user(tenant, user)
        .await?
        .ok_or_else(|| DomainError::not_found("no such user"))?;
    if !u.active() {
        return Err(DomainError::conflict(
            ErrorCode::UserDeactivated,
            format!("{} was deactivated", u.display_name),
        ));
    }
    if u.role != Role::Clinician {
        return Err(DomainError::invalid(
            ErrorCode::NotAClinician,
            format!(
                "{} is not a clinician: care teams take clinicians",
                u.display_name
            ),
        ));
    }
    Ok(u)
}

/// Whether `caller` may change `client`'s team.
async fn require_manager(env: Env<'_>, caller: &Caller, client: ObjectId) -> DomainResult<()> {
    caller.require_active()?;
    match caller.role() {
        Role::Admin | Role::FrontDesk => Ok(()),
        Role::Clinician => {
            let policy = env.tenant(caller.tenant).await?.policy;
            let on_team = env
                .stores
                .identity
                .on_care_team(caller.tenant, client, caller.session.user_id)
                .await?;
            if policy.team_members_manage && on_team {
                Ok(())
            } else {
                Err(DomainError::forbidden(
                    "only admins and front desk manage care teams (the clinic policy does not let team members)",
                ))
            }
        }
    }
}

async fn audit_change(
    env: Env<'_>,
    caller: &Caller,
    action: &str,
    client: ObjectId,
    whom: String,
    reason: Option<&str>,
) -> DomainResult<()> {
    let target = match reason {
        Some(r) => format!("{whom}: {r}"),
        None => whom,
    };
    let mut e = audit::entry(env, caller, action, Some(target));
    e.client = Some(client);
    Ok(env.stores.audit.append_entries(caller.tenant, &[e]).await?)
}

/// The client's team as shown to admins, front desk and its members.
pub async fn team(env: Env<'_>, caller: &Caller, client: ObjectId) -> DomainResult<CareTeam> {
    caller.require_active()?;
    let tenant = caller.tenant;
    require_client(env, tenant, client).await?;
    let members = env.stores.identity.care_team(tenant, client).await?;
    if caller.role() == Role::Clinician && !members.contains(&caller.session.user_id) {
        return Err(DomainError::not_found("no such client"));
    }
    view(env, tenant, client, members).await
}

/// The client's team as stored now.
async fn current(env: Env<'_>, tenant: TenantId, client: ObjectId) -> DomainResult<CareTeam> {
    let members = env.stores.identity.care_team(tenant, client).await?;
    view(env, tenant, client, members).await
}

async fn view(
    env: Env<'_>,
    tenant: TenantId,
    client: ObjectId,
    members: Vec<uuid::Uuid>,
) -> DomainResult<CareTeam> {
    let users: BTreeMap<uuid::Uuid, User> = env
        .stores
        .identity
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.user_id, u))
        .collect();
    let mut members: Vec<TeamMember> = members
        .into_iter()
        .map(|id| match users.get(&id) {
            Some(u) => TeamMember {
                user_id: id,
                display_name: u.display_name.clone(),
                role: u.role,
            },
            None => TeamMember {
                user_id: id,
                display_name: id.to_string(),
                role: Role::Clinician,
            },
        })
        .collect();
    members.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let now = env.now();
    let break_glass = env
        .stores
        .identity
        .list_break_glass(tenant)
        .await?
        .into_iter()
        .filter(|g| g.client_id == client && g.active(now))
        .collect();
    Ok(CareTeam {
        client_id: client,
        members,
        break_glass,
    })
}

/// Adds a clinician to a client's team.
pub async fn add(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &TeamChange,
) -> DomainResult<CareTeam> {
    let tenant = caller.tenant;
    let reason = clean_reason(req.reason.as_deref())?;
    require_manager(env, caller, client).await?;
    require_client(env, tenant, client).await?;
    let user = clinician(env, tenant, req.user_id).await?;
    if env
        .stores
        .identity
        .on_care_team(tenant, client, user.user_id)
        .await?
    {
        return Err(DomainError::conflict(
            ErrorCode::AlreadyMember,
            format!(
                "{} is already on this client's care team",
                user.display_name
            ),
        ));
    }
    env.stores
        .identity
        .add_care_team(tenant, client, user.user_id)
        .await?;
    audit_change(
        env,
        caller,
        TEAM_ADD,
        client,
        user.user_id.to_string(),
        reason.as_deref(),
    )
    .await?;
    current(env, tenant, client).await
}

/// Removes a member from a client's team: the client stops being served to them at once.
pub async fn remove(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &TeamChange,
) -> DomainResult<CareTeam> {
    let tenant = caller.tenant;
    let reason = clean_reason(req.reason.as_deref())?;
    require_manager(env, caller, client).await?;
    require_client(env, tenant, client).await?;
    if !env
        .stores
        .identity
        .remove_care_team(tenant, client, req.user_id)
        .await?
    {
        return Err(not_a_member());
    }
    super::client_keys::rotate(env, tenant, client).await?;
    audit_change(
        env,
        caller,
        TEAM_REMOVE,
        client,
        req.user_id.to_string(),
        reason.as_deref(),
    )
    .await?;
    current(env, tenant, client).await
}

fn not_a_member() -> DomainError {
    DomainError::Missing {
        code: ErrorCode::NotAMember,
        message: "that user is not on this client's care team".into(),
    }
}

/// Hands a client over: `to` joins and `from` leaves, in that order, so the client is never
/// without its treating clinician; a retry after a failure between the two finishes it.
pub async fn handover(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &Handover,
) -> DomainResult<CareTeam> {
    let tenant = caller.tenant;
    let reason = clean_reason(req.reason.as_deref())?;
    if req.from_user_id == req.to_user_id {
        return Err(DomainError::invalid(
            ErrorCode::BadBody,
            "a hand-over needs two different clinicians",
        ));
    }
    require_manager(env, caller, client).await?;
    require_client(env, tenant, client).await?;
    let to = clinician(env, tenant, req.to_user_id).await?;
    let members = env.stores.identity.care_team(tenant, client).await?;
    let from_on = members.contains(&req.from_user_id);
    let to_on = members.contains(&to.user_id);
    if !from_on && !to_on {
        return Err(not_a_member());
    }
    if !from_on {
        // Already handed over (a retry): answer the team as it is.
        return view(env, tenant, client, members).await;
    }
    if !to_on {
        env.stores
            .identity
            .add_care_team(tenant, client, to.user_id)
            .await?;
    }
    env.stores
        .identity
        .remove_care_team(tenant, client, req.from_user_id)
        .await?;
    super::client_keys::rotate(env, tenant, client).await?;
    audit_change(
        env,
        caller,
        TEAM_HANDOVER,
        client,
        format!("{} -> {}", req.from_user_id, to.user_id),
        reason.as_deref(),
    )
    .await?;
    current(env, tenant, client).await
}

/// The clients `user` may read and why: their caseload and their unexpired break-glass
/// grants. `all` for admins (and front desk, whose devices hold client records only).
pub async fn access_of(
    env: Env<'_>,
    tenant: TenantId,
    user: uuid::Uuid,
    role: Role,
) -> DomainResult<MyClients> {
    let mut erased: Vec<ObjectId> = super::erasure::erased(env, tenant)
        .await?
        .into_iter()
        .collect();
    erased.sort();
    if role != Role::Clinician {
        return Ok(MyClients {
            erased,
            all: true,
            clients: Vec::new(),
        });
    }
    let generations = super::client_keys::newest_generations(env, tenant).await?;
    let mut by_client: BTreeMap<ObjectId, ClientAccess> = env
        .stores
        .identity
        .caseload(tenant, user)
        .await?
        .into_iter()
        .map(|c| {
            (
                c,
                ClientAccess {
                    key: generations.get(&c).copied(),
                    client_id: c,
                    via: AccessVia::Team,
                    expires_at_ms: None,
                },
            )
        })
        .collect();
    for g in active_grants(env, tenant, user).await? {
        by_client.entry(g.client_id).or_insert(ClientAccess {
            key: generations.get(&g.client_id).copied(),
            client_id: g.client_id,
            via: AccessVia::BreakGlass,
            expires_at_ms: Some(g.expires_at_ms),
        });
    }
    Ok(MyClients {
        erased,
        all: false,
        clients: by_client.into_values().collect(),
    })
}

/// `user`'s unexpired break-glass grants.
pub async fn active_grants(
    env: Env<'_>,
    tenant: TenantId,
    user: uuid::Uuid,
) -> DomainResult<Vec<BreakGlassGrant>> {
    let now = env.now();
    Ok(env
        .stores
        .identity
        .list_break_glass(tenant)
        .await?
        .into_iter()
        .filter(|g| g.user_id == user && g.active(now))
        .collect())
}

/// The caller's own access: what its devices keep ("my clients"). The session's role decides
/// (a role change ends the user's sessions).
pub async fn my_clients(env: Env<'_>, caller: &Caller) -> DomainResult<MyClients> {
    access_of(env, caller.tenant, caller.session.user_id, caller.role()).await
}

/// A person's caseload: admins, front desk, and the person themself.
pub async fn caseload(
    env: Env<'_>,
    caller: &Caller,
    user: uuid::Uuid,
) -> DomainResult<Vec<ClientAccess>> {
    caller.require_active()?;
    if caller.role() == Role::Clinician && caller.session.user_id != user {
        return Err(DomainError::forbidden(
            "only admins, front desk and the clinician themself see a caseload",
        ));
    }
    let u = env
        .stores
        .identity
        .get_user(caller.tenant, user)
        .await?
        .ok_or_else(|| DomainError::not_found("no such user"))?;
    if u.role != Role::Clinician || !u.active() {
        return Ok(Vec::new());
    }
    Ok(access_of(env, caller.tenant, u.user_id, u.role)
        .await?
        .clients)
}

/// The clinicians a new client record names (`PushItem::team`), checked before anything is
/// stored: the pusher must be one who manages teams (admin, front desk; a clinician creating a
/// client always joins it and may name colleagues when the policy lets team members manage),
/// and each named user an active clinician. `Err` is the push item's rejection reason.
pub(super) async fn check_assignment(
    env: Env<'_>,
    caller: &Caller,
    team: &[uuid::Uuid],
) -> DomainResult<Result<(), String>> {
    if team.is_empty() {
        return Ok(Ok(()));
    }
    if caller.role() == Role::Clinician
        && !env.tenant(caller.tenant).await?.policy.team_members_manage
    {
        return Ok(Err(
            "only admins and front desk assign clinicians to a new client".into(),
        ));
    }
    for user in team {
        if let Err(e) = clinician(env, caller.tenant, *user).await {
            return Ok(Err(e.to_string()));
        }
    }
    Ok(Ok(()))
}

/// Puts the named clinicians on a client just created by the caller's push, one audited
/// `team.add` each ("assigned at registration").
pub(super) async fn assign_at_creation(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    team: &[uuid::Uuid],
) -> DomainResult<()> {
    for user in team {
        if env
            .stores
            .identity
            .on_care_team(caller.tenant, client, *user)
            .await?
        {
            continue;
        }
        env.stores
            .identity
            .add_care_team(caller.tenant, client, *user)
            .await?;
        audit_change(
            env,
            caller,
            TEAM_ADD,
            client,
            user.to_string(),
            Some("assigned at registration"),
        )
        .await?;
    }
    Ok(())
}
