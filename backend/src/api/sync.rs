//! Envelope sync over HTTP: `objects/push` and `objects/pull`. The rules (envelope binding,
//! access, paging, byte cap, audit) are in [`crate::domain::sync`].

use axum::Json;
use axum::extract::{RawQuery, State};

use super::AppState;
use super::auth::{ActiveDevice, Ctx};
use crate::domain::sync::{self as rules, PullQuery};
pub use crate::domain::sync::{
    AccessCache, MAX_PULL_BYTES, MAX_PULL_LIMIT, MAX_PULL_SCAN, MAX_PUSH_OBJECTS, PullPage,
    PulledObject, PushItem, PushRequest, PushResult, PushStatus, may_access,
};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// `POST /v1/tenants/{tenant}/objects/push`
pub async fn push(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<Vec<PushResult>>> {
    let req: PushRequest = ctx.json()?;
    Ok(Json(rules::push(state.env(), &ctx.caller, &req).await?))
}

/// `name` as a non-negative integer.
fn int_param(p: &std::collections::HashMap<String, String>, name: &str) -> ApiResult<Option<u64>> {
    p.get(name)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::BadQuery,
                    format!("{name} must be a non-negative integer"),
                )
            })
        })
        .transpose()
}

/// `GET /v1/tenants/{tenant}/objects/pull?after=N&limit=M&exclude_own=1`
pub async fn pull(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<PullPage>> {
    // Each parameter at most once, only known ones (400 `bad_query` otherwise).
    let p = super::reports::query_params(&query, &["after", "limit", "exclude_own"])?;
    let exclude_own = match int_param(&p, "exclude_own")? {
        None | Some(0) => false,
        Some(1) => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::BadQuery,
                "exclude_own must be 0 or 1",
            ));
        }
    };
    let q = PullQuery {
        after: int_param(&p, "after")?.unwrap_or(0),
        limit: int_param(&p, "limit")?,
        exclude_own,
    };
    Ok(Json(rules::pull(state.env(), &caller, q).await?))
}
