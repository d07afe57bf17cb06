//! Device administration over HTTP: list, approve, revoke (revocation needs a fresh passkey
//! step-up). Rules: [`crate::domain::devices`], [`crate::domain::lifecycle::revoke_device`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::DeviceId;

use super::auth::{Admin, AdminStepUp, Ctx};
use super::{AppState, path_id};
use crate::domain::devices::{self as rules, Approved};
use crate::domain::lifecycle::{self, Revoked};
use crate::error::ApiResult;
use crate::model::Device;

/// `GET /v1/tenants/{tenant}/devices` (admin)
pub async fn list(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(rules::list(state.env(), &caller).await?))
}

/// `POST /v1/tenants/{tenant}/devices/{device}/approve` (admin + step-up: an approved device
/// receives the clinic's keys)
pub async fn approve(
    State(state): State<AppState>,
    Path((_, device)): Path<(String, String)>,
    AdminStepUp(Ctx { caller, .. }): AdminStepUp,
) -> ApiResult<Json<Approved>> {
    let device: DeviceId = path_id(&device, "device")?;
    Ok(Json(rules::approve(state.env(), &caller, device).await?))
}

/// `POST /v1/tenants/{tenant}/devices/{device}/revoke` (admin + step-up)
pub async fn revoke(
    State(state): State<AppState>,
    Path((_, device)): Path<(String, String)>,
    AdminStepUp(Ctx { caller, .. }): AdminStepUp,
) -> ApiResult<Json<Revoked>> {
    let device: DeviceId = path_id(&device, "device")?;
    Ok(Json(
        lifecycle::revoke_device(state.env(), &caller, device).await?,
    ))
}
