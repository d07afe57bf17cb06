//! Tenant-key release over HTTP (the rule is [`crate::domain::keys::release`]).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::auth::ActiveDevice;
use crate::error::ApiResult;
pub use ward_proto::api::{ReleaseRequest, Released, encode_release_payload, release_context};

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
