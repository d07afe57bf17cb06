//! The clinic's staff list for the admin console: users with their role and creation time.
//! Admin only. Staff names are not clinical data (they are stored in clear, like the invite
//! they came from); client names never pass through here.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};

use serde::Serialize;

use super::AppState;
use crate::error::ApiResult;
use crate::model::Role;

/// One staff member as the console lists them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StaffMember {
    /// User id.
    pub user_id: uuid::Uuid,
    /// Name from the invite.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When the user enrolled.
    pub created_at_ms: i64,
}

/// `GET /v1/tenants/{tenant}/users` (admin): every user, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Vec<StaffMember>>> {
    let (tenant, _, _) =
        super::auth::authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    let mut users = state.stores.identity.list_users(tenant).await?;
    users.sort_by_key(|u| u.created_at_ms);
    Ok(Json(
        users
            .into_iter()
            .map(|u| StaffMember {
                user_id: u.user_id,
                display_name: u.display_name,
                role: u.role,
                created_at_ms: u.created_at_ms,
            })
            .collect(),
    ))
}
