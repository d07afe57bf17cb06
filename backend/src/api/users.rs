//! People over HTTP: the people list with devices and sessions, device invites, role changes,
//! deactivation, sessions. Rules: [`crate::domain::users`].

use axum::Json;
use axum::extract::{Path, State};
use ward_proto::DeviceId;
use ward_proto::people::{Deactivation, DeviceInvite, RoleChange, SessionInfo};

use super::auth::{ActiveDevice, Admin, AdminStepUp, Authed, Ctx};
use super::{AppState, path_id};
use crate::domain::users as rules;
pub use crate::domain::users::{Deactivated, Person, SessionEnded};
use crate::error::ApiResult;

fn user_of(s: &str) -> ApiResult<uuid::Uuid> {
    path_id(s, "user")
}

/// `GET /v1/tenants/{tenant}/users` (admin): every person, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<Person>>> {
    Ok(Json(rules::list(state.env(), &caller).await?))
}

/// `GET /v1/tenants/{tenant}/users/{user}` (admin)
pub async fn get(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Person>> {
    Ok(Json(
        rules::get(state.env(), &caller, user_of(&user)?).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/users/{user}/device-invites` (admin; step-up for an admin's)
pub async fn invite_device(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<DeviceInvite>> {
    Ok(Json(
        rules::invite_device(state.env(), &caller, user_of(&user)?).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/me/device-invites` (an approved device, any role)
pub async fn invite_own_device(
    State(state): State<AppState>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<DeviceInvite>> {
    Ok(Json(rules::invite_own_device(state.env(), &caller).await?))
}

/// `POST /v1/tenants/{tenant}/users/{user}/role` (admin + step-up)
pub async fn change_role(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<Person>> {
    let req: RoleChange = ctx.json()?;
    Ok(Json(
        rules::change_role(state.env(), &ctx.caller, user_of(&user)?, &req).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/users/{user}/deactivate` (admin + step-up)
pub async fn deactivate(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    AdminStepUp(ctx): AdminStepUp,
) -> ApiResult<Json<Deactivated>> {
    let req: Deactivation = ctx.json()?;
    Ok(Json(
        rules::deactivate(state.env(), &ctx.caller, user_of(&user)?, &req).await?,
    ))
}

/// `GET /v1/tenants/{tenant}/users/{user}/sessions` (admin, or the user themself)
pub async fn sessions(
    State(state): State<AppState>,
    Path((_, user)): Path<(String, String)>,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(
        rules::sessions(state.env(), &caller, user_of(&user)?).await?,
    ))
}

/// `POST /v1/tenants/{tenant}/devices/{device}/sessions/{session}/end` (admin, or the device's
/// own user)
pub async fn end_session(
    State(state): State<AppState>,
    Path((_, device, session)): Path<(String, String, String)>,
    Authed(Ctx { caller, .. }): Authed,
) -> ApiResult<Json<SessionEnded>> {
    let device: DeviceId = path_id(&device, "session")?;
    Ok(Json(
        rules::end_session(state.env(), &caller, device, &session).await?,
    ))
}
