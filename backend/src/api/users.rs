//! The clinic's staff list for the admin console (rule: [`crate::domain::users::list`]).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::auth::{Admin, Ctx};
pub use crate::domain::users::StaffMember;
use crate::error::ApiResult;

/// `GET /v1/tenants/{tenant}/users` (admin): every user, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Json<Vec<StaffMember>>> {
    Ok(Json(
        crate::domain::users::list(state.env(), &caller).await?,
    ))
}
