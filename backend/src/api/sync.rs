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

/// The first `name=` of the query as a non-negative integer.
fn query_param(q: &Option<String>, name: &str) -> ApiResult<Option<u64>> {
    let Some(q) = q else { return Ok(None) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::BadQuery,
                    format!("{name} must be a non-negative integer"),
                )
            });
        }
    }
    Ok(None)
}

/// `GET /v1/tenants/{tenant}/objects/pull?after=N&limit=M&exclude_own=1`
pub async fn pull(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    ActiveDevice(Ctx { caller, .. }): ActiveDevice,
) -> ApiResult<Json<PullPage>> {
    let q = PullQuery {
        after: query_param(&query, "after")?.unwrap_or(0),
        limit: query_param(&query, "limit")?,
        exclude_own: query_param(&query, "exclude_own")?.unwrap_or(0) == 1,
    };
    Ok(Json(rules::pull(state.env(), &caller, q).await?))
}
