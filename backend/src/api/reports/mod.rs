//! Audit views, device audit-chain upload, and the breach-scope report (DESIGN property 8): the
//! HTTP side (query parameters, JSON or CSV). The rules are in [`crate::domain::reports`].

mod csv;
mod query;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use ward_proto::DeviceId;
use ward_proto::audit::{AuditUpload, AuditUploadResult};

use super::auth::{ActiveDevice, Admin, Ctx};
use super::{AppState, path_id};
use crate::error::ApiResult;
pub(super) use query::query_params;
use query::{AUDIT_PARAMS, Format, audit_query, format_param};

pub use crate::domain::reports::*;
pub use csv::{AUDIT_CSV_HEADER, BREACH_CSV_HEADER, csv_field, iso8601};

/// `POST /v1/tenants/{tenant}/audit/events` (any active device)
pub async fn upload_events(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<AuditUploadResult>> {
    let req: AuditUpload = ctx.json()?;
    Ok(Json(chain::upload(state.env(), &ctx.caller, req).await?))
}

/// `GET /v1/tenants/{tenant}/audit?device=&actor=&action=&client=&since=&until=&limit=&after=&order=&format=` (admin)
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Response> {
    let p = query_params(&query, AUDIT_PARAMS)?;
    let format = format_param(&p)?;
    let q = audit_query(&p)?;
    let list = view::list(state.env(), &caller, &q, format.as_str()).await?;
    Ok(match format {
        Format::Json => Json(list).into_response(),
        Format::Csv => csv::csv_response(csv::audit_csv(&list), "audit.csv", list.next.as_deref()),
    })
}

/// `GET /v1/tenants/{tenant}/devices/{device}/breach-scope?format=json|csv` (admin)
pub async fn breach_scope(
    State(state): State<AppState>,
    Path((_, device)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Admin(Ctx { caller, .. }): Admin,
) -> ApiResult<Response> {
    let p = query_params(&query, &["format"])?;
    let format = format_param(&p)?;
    let device: DeviceId = path_id(&device, "device")?;
    let report = breach::breach_scope(state.env(), &caller, device, format.as_str()).await?;
    Ok(match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => csv::csv_response(
            csv::breach_csv(&report),
            &format!("breach-scope-{device}.csv"),
            None,
        ),
    })
}
