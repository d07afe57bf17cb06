//! Device administration: list, approve, revoke (revocation needs a fresh passkey step-up).
//!
//! Revocation kills the device's sessions at once, rotates the tenant key and queues a signed
//! wipe command (see [`super::lifecycle`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use ward_proto::{DeviceId, TenantId};

use super::auth::authed_admin;
use super::{AppState, path_id};
use crate::error::{ApiError, ApiResult};
use crate::model::{Device, DeviceStatus};

/// `GET /v1/tenants/{tenant}/devices` (admin)
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Vec<Device>>> {
    let (tenant, _, _) = authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    Ok(Json(state.stores.devices.list_devices(tenant).await?))
}

async fn transition(
    state: &AppState,
    tenant: TenantId,
    caller: &super::auth::Caller,
    device: &str,
    from: &[DeviceStatus],
    to: DeviceStatus,
    action: &str,
) -> ApiResult<DeviceId> {
    let device: DeviceId = path_id(device, "device")?;
    if state
        .stores
        .devices
        .get_device(tenant, device)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("no such device"));
    }
    if !state
        .stores
        .devices
        .set_device_status(tenant, device, from, to)
        .await?
    {
        return Err(ApiError::conflict(
            "invalid_state",
            format!("device cannot go to {to:?} from its current state"),
        ));
    }
    caller
        .audit(state, action, Some(device.to_string()))
        .await?;
    Ok(device)
}

/// `POST /v1/tenants/{tenant}/devices/{device}/approve` (admin)
pub async fn approve(
    State(state): State<AppState>,
    Path((tenant, device)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (tenant, caller, _) = authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    let d = transition(
        &state,
        tenant,
        &caller,
        &device,
        &[DeviceStatus::Pending],
        DeviceStatus::Active,
        "device.approve",
    )
    .await?;
    Ok(Json(
        json!({"device_id": d, "status": DeviceStatus::Active}),
    ))
}

/// `POST /v1/tenants/{tenant}/devices/{device}/revoke` (admin + step-up)
pub async fn revoke(
    State(state): State<AppState>,
    Path((tenant, device)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (tenant, caller, _) = authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    caller.require_step_up(state.now())?;
    let d = transition(
        &state,
        tenant,
        &caller,
        &device,
        &[DeviceStatus::Pending, DeviceStatus::Active],
        DeviceStatus::Revoked,
        "device.revoke",
    )
    .await?;
    let revoked = super::lifecycle::revoke_device(&state, &caller, d).await?;
    Ok(Json(
        serde_json::to_value(revoked).map_err(ApiError::internal)?,
    ))
}
