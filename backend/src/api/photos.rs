//! Photo upload and download over HTTP: presigned part URLs, completion, download URLs (rules
//! in [`crate::domain::photos`]), and, in embedded mode, the `/blobs` endpoint that stands in
//! for S3 and checks each URL's signature.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::ActiveDevice;
use super::{AppState, body_bytes};
use crate::domain::photos::{self as rules, Completed};
pub use crate::domain::photos::{
    DOWNLOAD_URL_TTL_S, DownloadRequest, DownloadUrl, MAX_PHOTO_BYTES, PART_SIZE, PartUrl,
    UPLOAD_URL_TTL_S, UploadComplete, UploadPlan, UploadStart,
};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// `POST /v1/tenants/{tenant}/uploads/start`
pub async fn start(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<UploadPlan>> {
    let req: UploadStart = ctx.json()?;
    Ok(Json(rules::start(state.env(), &ctx.caller, &req).await?))
}

/// `POST /v1/tenants/{tenant}/uploads/complete`
pub async fn complete(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<Completed>> {
    let req: UploadComplete = ctx.json()?;
    Ok(Json(rules::complete(state.env(), &ctx.caller, &req).await?))
}

/// `POST /v1/tenants/{tenant}/downloads`
pub async fn download(
    State(state): State<AppState>,
    ActiveDevice(ctx): ActiveDevice,
) -> ApiResult<Json<DownloadUrl>> {
    let req: DownloadRequest = ctx.json()?;
    Ok(Json(rules::download(state.env(), &ctx.caller, &req).await?))
}

/// `PUT /blobs/{*path}` — embedded mode only: receives one part through a signed URL.
pub async fn local_put(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(blobs) = state.local_blobs.clone() else {
        return ApiError::not_found("no such endpoint").into_response();
    };
    let grant = match blobs.verify("PUT", &path, q.as_deref().unwrap_or("")) {
        Ok(g) if g.part.is_some() => g,
        _ => {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::BadUrl,
                "URL signature invalid or expired",
            )
            .into_response();
        }
    };
    let body = match body_bytes(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match blobs.write_part(&grant, &body) {
        Ok(part) => ([("etag", part.etag)], StatusCode::OK).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /blobs/{*path}` — embedded mode only: serves a blob through a signed URL.
pub async fn local_get(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(blobs) = state.local_blobs.clone() else {
        return ApiError::not_found("no such endpoint").into_response();
    };
    let grant = match blobs.verify("GET", &path, q.as_deref().unwrap_or("")) {
        Ok(g) if g.part.is_none() => g,
        _ => {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::BadUrl,
                "URL signature invalid or expired",
            )
            .into_response();
        }
    };
    match blobs.read(&grant) {
        Ok(Some(bytes)) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Ok(None) => ApiError::not_found("no such blob").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
