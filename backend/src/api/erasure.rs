//! Erasure of one client over HTTP. Rules: [`crate::domain::erasure`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::erasure::{EraseClientRequest, Erasure};

use super::auth::{Admin, AdminStepUp, Ctx};
use super::{AppState, path_id};
use crate::domain::erasure as rules;
use crate::error::ApiResult;

/// `POST /v1/tenants/{tenant}/clients/{client}/erase` (admin + step-up)
pub async fn erase(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<Erasure>> {
    let client = path_id(&client, "client")?;
    let req: EraseClientRequest = ctx.json()?;
    Ok(Json(
        rules::erase(state.env(), &ctx.caller, client, &req).await?,
    ))
}

/// `GET /v1/tenants/{tenant}/erasures` (admin)
pub async fn ledger(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<Erasure>>> {
    Ok(Json(rules::ledger(state.env(), &caller).await?))
}
