//! Key release and client-key registration over HTTP (the rules are
//! [`crate::domain::keys::release`] and [`crate::domain::client_keys::register`]).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::auth::ActiveDevice;
use crate::error::ApiResult;
pub use ward_proto::api::{ReleaseRequest, Released, encode_release_payload, release_context};
pub use ward_proto::client_keys::{RegisterClientKeys, RegisteredClientKeys};

/// `POST /v1/tenants/{tenant}/keys/release` (approved device)
pub async fn release(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<Released>> {
    let req: ReleaseRequest = ctx.json()?;
    Ok(Json(
        crate::domain::keys::release(state.env(), &ctx.caller, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/keys/clients` (approved device)
pub async fn register_clients(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<RegisteredClientKeys>> {
    let req: RegisterClientKeys = ctx.json()?;
    Ok(Json(
        crate::domain::client_keys::register(state.env(), &ctx.caller, &req).await?,
    ))
}
