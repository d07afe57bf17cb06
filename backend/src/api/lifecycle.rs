//! Device lifecycle over HTTP: lockdown, the clinic's policies, the quarantine an admin
//! reviews, and a revoked device's rescue upload and wipe receipt. Rules:
//! [`crate::domain::lifecycle`], [`crate::domain::policy`], [`crate::domain::keys`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::VersionId;
use ward_proto::api::{PushRequest, PushResult};
use ward_proto::wipe::SignedReceipt;

use super::auth::{ActiveDevice, Admin, AdminStepUp, Authed, Ctx};
use super::{AppState, path_id};
pub use crate::domain::keys::rotate_epoch;
pub use crate::domain::lifecycle::{Lockdown, Revoked, revoke_device};
use crate::domain::{lifecycle as rules, policy};
use crate::error::ApiResult;
use crate::model::{QuarantineItem, QuarantineStatus, TenantPolicy, WipeState};

/// `POST /v1/tenants/{tenant}/lockdown` (admin + step-up): revokes every device but the
/// caller's, queues their wipes, rotates the key once, and ends every session.
pub async fn lockdown(
    State(state): State<AppState>,
    AdminStepUp(Ctx { caller, .. }): AdminStepUp,
) -> ApiResult<Json<Lockdown>> {
    Ok(Json(rules::lockdown(state.env(), &caller).await?))
}

/// `GET /v1/tenants/{tenant}/policy` (any active member)
pub async fn policy_get(
    State(state): State<AppState>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<TenantPolicy>> {
    Ok(Json(policy::get(state.env(), &caller).await?))
}

/// `PUT /v1/tenants/{tenant}/policy` (admin + step-up)
pub async fn policy_put(
    State(state): State<AppState>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<TenantPolicy>> {
    let new: TenantPolicy = ctx.json()?;
    Ok(Json(policy::put(state.env(), &ctx.caller, new).await?))
}

/// `GET /v1/tenants/{tenant}/quarantine` (admin)
pub async fn quarantine_list(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<QuarantineItem>>> {
    Ok(Json(rules::quarantine(state.env(), &caller).await?))
}

async fn decide(
    state: &AppState,
    ctx: Ctx,
    version: &str,
    to: QuarantineStatus,
) -> ApiResult<Json<QuarantineItem>> {
    let version: VersionId = path_id(version, "quarantined version")?;
    Ok(Json(
        rules::decide(state.env(), &ctx.caller, version, to).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/quarantine/{version}/accept` (admin)
pub async fn quarantine_accept(
    State(state): State<AppState>,
    Path((_, version)): Path<(String, String)>,
    Admin(ctx): Admin,
) -> ApiResult<Json<QuarantineItem>> {
    decide(&state, ctx, &version, QuarantineStatus::Accepted).await
}

/// `POST /v1/tenants/{tenant}/quarantine/{version}/reject` (admin + step-up: the rescued
/// version is lost to the record)
pub async fn quarantine_reject(
    State(state): State<AppState>,
    Path((_, version)): Path<(String, String)>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<QuarantineItem>> {
    decide(&state, ctx, &version, QuarantineStatus::Rejected).await
}

/// `POST /v1/tenants/{tenant}/wipe/quarantine` (a revoked device with a pending wipe): its
/// unsynced record versions, checked like a push and kept apart for an admin's decision.
pub async fn wipe_quarantine(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> ApiResult<Json<Vec<PushResult>>> {
    rules::may_rescue(&ctx.caller)?;
    let req: PushRequest = ctx.json()?;
    Ok(Json(rules::rescue(state.env(), &ctx.caller, &req).await?))
}

/// `POST /v1/tenants/{tenant}/wipe/receipt` (a revoked device with a pending wipe): the
/// device-signed receipt; the device becomes `wiped`.
pub async fn wipe_receipt(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> ApiResult<Json<WipeState>> {
    let wipe = ctx.caller.require_wiping()?.clone();
    let signed: SignedReceipt = ctx.json()?;
    Ok(Json(
        rules::wipe_receipt(state.env(), &ctx.caller, wipe, signed).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/wipe/receipts` (public: the receipt is signed by the device key
/// and proves itself): a wiped phone's receipt without a session. Rate-limited per address.
pub async fn wipe_receipt_public(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    source: super::SourceAddr,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<WipeState>> {
    let tenant: ward_proto::TenantId = path_id(&tenant, "tenant")?;
    state
        .throttle(
            tenant,
            crate::domain::throttle::Attempt::LoginFinish,
            &source,
        )
        .await?;
    let signed: SignedReceipt = super::parse_body(body)?;
    Ok(Json(
        rules::wipe_receipt_public(state.env(), tenant, signed).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/wipe/keys` (a revoked device with a pending wipe that rescues):
/// the first keys of clients created on it, before the rescue upload.
pub async fn wipe_keys(
    State(state): State<AppState>,
    Authed(ctx): Authed,
) -> ApiResult<Json<ward_proto::client_keys::RegisteredClientKeys>> {
    rules::may_rescue(&ctx.caller)?;
    let req: ward_proto::client_keys::RegisterClientKeys = ctx.json()?;
    Ok(Json(
        crate::domain::client_keys::register_for_rescue(state.env(), &ctx.caller, &req).await?,
    ))
}
