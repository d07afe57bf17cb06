//! Export of one client's record over HTTP. Rules: [`crate::domain::export`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::export::{ClientExport, ExportRequest};

use super::auth::AdminStepUp;
use super::{AppState, path_id};
use crate::domain::export as rules;
use crate::error::ApiResult;

/// `POST /v1/tenants/{tenant}/clients/{client}/export` (admin + step-up)
pub async fn export(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<ClientExport>> {
    let client = path_id(&client, "client")?;
    let req: ExportRequest = ctx.json()?;
    Ok(Json(
        rules::export(state.env(), &ctx.caller, client, &req).await?,
    ))
}
