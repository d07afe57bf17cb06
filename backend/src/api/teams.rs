//! Care teams, "my clients" and break-glass over HTTP. Rules: [`crate::domain::teams`],
//! [`crate::domain::break_glass`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::ObjectId;
use ward_proto::people::{
    BreakGlassGrant, BreakGlassRequest, CareTeam, ClientAccess, Handover, MyClients, TeamChange,
};

use super::auth::{ActiveDevice, Admin, Ctx};
use super::{AppState, path_id};
use crate::domain::{break_glass, teams as rules};
use crate::error::ApiResult;

fn client_of(s: &str) -> ApiResult<ObjectId> {
    path_id(s, "client")
}

/// `GET /v1/tenants/{tenant}/clients/{client}/team`
pub async fn team(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<CareTeam>> {
    Ok(Json(
        rules::team(state.env(), &caller, client_of(&client)?).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/clients/{client}/team/add`
pub async fn add(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<CareTeam>> {
    let client = client_of(&client)?;
    let req: TeamChange = ctx.json()?;
    Ok(Json(
        rules::add(state.env(), &ctx.caller, client, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/clients/{client}/team/remove`
pub async fn remove(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<CareTeam>> {
    let client = client_of(&client)?;
    let req: TeamChange = ctx.json()?;
    Ok(Json(
        rules::remove(state.env(), &ctx.caller, client, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/clients/{client}/team/handover`
pub async fn handover(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<CareTeam>> {
    let client = client_of(&client)?;
    let req: Handover = ctx.json()?;
    Ok(Json(
        rules::handover(state.env(), &ctx.caller, client, &req).await?,
    ))
}

/// `GET /v1/tenants/{tenant}/users/{user}/caseload`
pub async fn caseload(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<Vec<ClientAccess>>> {
    let user: uuid::Uuid = path_id(&user, "user")?;
    Ok(Json(rules::caseload(state.env(), &caller, user).await?))
}

/// `GET /v1/tenants/{tenant}/me/clients`
pub async fn my_clients(
    State(state): State<AppState>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<MyClients>> {
    Ok(Json(rules::my_clients(state.env(), &caller).await?))
}

/// `POST /v1/tenants/{tenant}/clients/{client}/break-glass`
pub async fn break_glass(
    State(state): State<AppState>,
    Path((_, client)): Path<(String, String)>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<BreakGlassGrant>> {
    let client = client_of(&client)?;
    let req: BreakGlassRequest = ctx.json()?;
    Ok(Json(
        break_glass::grant(state.env(), &ctx.caller, client, &req).await?,
    ))
}

/// `GET /v1/tenants/{tenant}/break-glass` (admin)
pub async fn break_glass_list(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<BreakGlassGrant>>> {
    Ok(Json(break_glass::list(state.env(), &caller).await?))
}

/// `POST /v1/tenants/{tenant}/break-glass/{grant}/acknowledge` (admin)
pub async fn break_glass_ack(
    State(state): State<AppState>,
    Path((_, grant)): Path<(String, String)>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<BreakGlassGrant>> {
    Ok(Json(
        break_glass::acknowledge(state.env(), &caller, &grant).await?,
    ))
}
