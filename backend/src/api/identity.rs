//! Passkey identity over HTTP: enrollment with an invite, login, step-up, invites, "who am I".
//! The ceremonies' rules are in [`crate::domain::identity`]; every unauthenticated ceremony
//! call first draws on its rate-limit budgets ([`crate::domain::throttle`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use ward_proto::TenantId;

use super::auth::{Admin, Authed};
use super::{AppState, SourceAddr, parse_body, path_id};
use crate::domain::identity as rules;
pub use crate::domain::identity::{
    CeremonyStarted, EnrollFinish, EnrollStart, InviteCreated, LoginFinish, LoginStart, Me,
    NewDevice, NewInvite, SessionGrant, StepUpFinish, SteppedUp,
};
use crate::domain::throttle::Attempt;
use crate::error::ApiResult;

fn tenant_of(s: &str) -> ApiResult<TenantId> {
    path_id(s, "tenant")
}

/// `POST /v1/tenants/{tenant}/enroll/start`
pub async fn enroll_start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    source: SourceAddr,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CeremonyStarted>> {
    let tenant = tenant_of(&tenant)?;
    rules::require_tenant(state.env(), tenant).await?;
    let req: EnrollStart = parse_body(body)?;
    let hash = rules::token_hash(&req.invite_code);
    state
        .throttle(tenant, Attempt::Enroll(&hash), &source)
        .await?;
    Ok(Json(
        rules::enroll_start(state.env(), &state.webauthn, tenant, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/enroll/finish`
pub async fn enroll_finish(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    source: SourceAddr,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SessionGrant>> {
    let tenant = tenant_of(&tenant)?;
    let req: EnrollFinish = parse_body(body)?;
    let hash = rules::token_hash(&req.invite_code);
    state
        .throttle(tenant, Attempt::Enroll(&hash), &source)
        .await?;
    Ok(Json(
        rules::enroll_finish(state.env(), &state.webauthn, tenant, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/login/start`
pub async fn login_start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    source: SourceAddr,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CeremonyStarted>> {
    let tenant = tenant_of(&tenant)?;
    let req: LoginStart = parse_body(body)?;
    state
        .throttle(tenant, Attempt::LoginStart(req.user_id), &source)
        .await?;
    Ok(Json(
        rules::login_start(state.env(), &state.webauthn, tenant, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/login/finish`
pub async fn login_finish(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    source: SourceAddr,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<SessionGrant>> {
    let tenant = tenant_of(&tenant)?;
    state
        .throttle(tenant, Attempt::LoginFinish, &source)
        .await?;
    let req: LoginFinish = parse_body(body)?;
    Ok(Json(
        rules::login_finish(state.env(), &state.webauthn, tenant, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/step-up/start` (authenticated)
pub async fn step_up_start(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> ApiResult<Json<CeremonyStarted>> {
    let user = ctx.caller.session.user_id;
    state
        .throttle(ctx.tenant, Attempt::StepUp(user), &SourceAddr::default())
        .await?;
    Ok(Json(
        rules::step_up_start(state.env(), &state.webauthn, &ctx.caller).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/step-up/finish` (authenticated)
pub async fn step_up_finish(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> ApiResult<Json<SteppedUp>> {
    let req: StepUpFinish = ctx.json()?;
    Ok(Json(
        rules::step_up_finish(state.env(), &state.webauthn, &ctx.caller, &req).await?,
    ))
}

/// `GET /v1/tenants/{tenant}/me` (authenticated; pending devices may call it to poll approval)
pub async fn me(State(state): State<AppState>, Authed(ctx): Authed) -> ApiResult<Json<Me>> {
    Ok(Json(rules::me(state.env(), &ctx.caller).await?))
}

/// `POST /v1/tenants/{tenant}/invites` (admin)
pub async fn create_invite(
    State(state): State<AppState>,
    Admin(ctx): Admin,
) -> ApiResult<Json<InviteCreated>> {
    let req: rules::NewInvite = ctx.json()?;
    Ok(Json(
        rules::create_invite(state.env(), &ctx.caller, &req).await?,
    ))
}
