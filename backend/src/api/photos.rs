//! Photo upload and download through presigned URLs: the API only issues short-lived URLs to
//! approved devices and records the finished upload in the change feed; photo bytes go from the
//! phone straight to S3 (or, embedded, to this server's `/blobs` endpoint, which checks the URL
//! signature). Uploads are multipart with server-side state, so a cut upload resumes by asking
//! which parts arrived and sending only the others.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ward_proto::{Kind, TenantId};

use super::auth::Caller;
use super::sync::may_access;
use super::{AppState, body_bytes, parse_body};
use crate::error::{ApiError, ApiResult};
use crate::model::{PartInfo, StoredObject, UploadState};
use crate::store::{BlobKey, PutOutcome};
pub use ward_proto::api::{
    DownloadRequest, DownloadUrl, PartUrl, UploadComplete, UploadPlan, UploadStart,
};

/// Bytes per part (S3's minimum for all but the last part is 5 MiB).
pub use ward_proto::api::PART_SIZE;
/// Largest photo envelope accepted.
pub const MAX_PHOTO_BYTES: u64 = 512 * 1024 * 1024;
/// Lifetime of an upload URL.
pub const UPLOAD_URL_TTL_S: u32 = 10 * 60;
/// Lifetime of a download URL.
pub const DOWNLOAD_URL_TTL_S: u32 = 5 * 60;

use super::auth::authed_active as authed;

fn part_count(size: u64) -> u32 {
    size.div_ceil(PART_SIZE).max(1) as u32
}

/// `POST /v1/tenants/{tenant}/uploads/start`
pub async fn start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<UploadPlan>> {
    let (tenant, caller, body) = authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: UploadStart = parse_body(Ok(body))?;
    if req.size == 0 || req.size > MAX_PHOTO_BYTES {
        return Err(ApiError::bad_request(
            "bad_size",
            format!("size must be 1..={MAX_PHOTO_BYTES} bytes"),
        ));
    }
    if !may_access(&state, &caller, Kind::PhotoContent, Some(req.client_id)).await? {
        return Err(ApiError::forbidden("not on this client's care team"));
    }
    let key = BlobKey {
        object: req.object_id,
        version: req.version_id,
    };
    let upload = match state
        .stores
        .objects
        .get_upload(tenant, req.object_id, req.version_id)
        .await?
    {
        Some(u) if u.size != req.size || u.client_id != req.client_id => {
            return Err(ApiError::conflict(
                "upload_mismatch",
                "an upload of this version with other parameters exists",
            ));
        }
        Some(u) if u.completed => {
            // A retry of a finished upload (its answer was lost, or the app was killed before
            // it recorded it): idempotent, nothing left to send.
            return Ok(Json(UploadPlan {
                part_size: PART_SIZE,
                done: (1..=part_count(u.size)).collect(),
                parts: Vec::new(),
                completed: true,
            }));
        }
        Some(u) => u,
        None => {
            let upload_id = state.stores.blobs.create_upload(tenant, key).await?;
            let u = UploadState {
                object_id: req.object_id,
                version_id: req.version_id,
                client_id: req.client_id,
                upload_id,
                size: req.size,
                part_size: PART_SIZE,
                device_id: caller.device.device_id,
                created_at_ms: state.now(),
                completed: false,
            };
            state.stores.objects.put_upload(tenant, &u).await?;
            u
        }
    };
    if state.stores.blobs.blob_size(tenant, key).await? == Some(upload.size) {
        // Assembled but not yet recorded (the completing request was cut short): nothing to
        // send; the device's `complete` call finishes it.
        return Ok(Json(UploadPlan {
            part_size: upload.part_size,
            done: (1..=part_count(upload.size)).collect(),
            parts: Vec::new(),
            completed: false,
        }));
    }
    let have = state
        .stores
        .blobs
        .list_parts(tenant, key, &upload.upload_id)
        .await?;
    let mut done = Vec::new();
    let mut parts = Vec::new();
    for n in 1..=part_count(upload.size) {
        let offset = u64::from(n - 1) * upload.part_size;
        let length = upload.part_size.min(upload.size - offset);
        if have.iter().any(|p| p.number == n && p.size == length) {
            done.push(n);
            continue;
        }
        let url = state
            .stores
            .blobs
            .presign_part(tenant, key, &upload.upload_id, n, UPLOAD_URL_TTL_S)
            .await?;
        parts.push(PartUrl {
            number: n,
            offset,
            length,
            url,
        });
    }
    Ok(Json(UploadPlan {
        part_size: upload.part_size,
        done,
        parts,
        completed: false,
    }))
}

/// `POST /v1/tenants/{tenant}/uploads/complete`
pub async fn complete(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let (tenant, caller, body) = authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: UploadComplete = parse_body(Ok(body))?;
    let mut upload = state
        .stores
        .objects
        .get_upload(tenant, req.object_id, req.version_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such upload"))?;
    if !may_access(&state, &caller, Kind::PhotoContent, Some(upload.client_id)).await? {
        return Err(ApiError::forbidden("not on this client's care team"));
    }
    let key = BlobKey {
        object: req.object_id,
        version: req.version_id,
    };
    // A crash (or a cut) after the blob was assembled leaves its parts gone: finish from the
    // assembled blob instead of asking for parts again.
    let assembled =
        !upload.completed && state.stores.blobs.blob_size(tenant, key).await? == Some(upload.size);
    if !upload.completed && !assembled {
        let have = state
            .stores
            .blobs
            .list_parts(tenant, key, &upload.upload_id)
            .await?;
        let expected = part_count(upload.size);
        let parts: Vec<PartInfo> = (1..=expected)
            .filter_map(|n| have.iter().find(|p| p.number == n).cloned())
            .collect();
        let total: u64 = parts.iter().map(|p| p.size).sum();
        if parts.len() as u32 != expected || total != upload.size {
            let missing: Vec<u32> = (1..=expected)
                .filter(|n| !have.iter().any(|p| p.number == *n))
                .collect();
            return Err(ApiError::conflict(
                "parts_missing",
                format!("parts not yet received: {missing:?}"),
            ));
        }
        state
            .stores
            .blobs
            .complete_upload(tenant, key, &upload.upload_id, &parts)
            .await?;
        let etags: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
        record_photo(
            &state,
            &caller,
            tenant,
            &req,
            &upload,
            format!("parts:{}", etags.join(",")),
        )
        .await?;
    }
    if !upload.completed {
        if assembled
            && state
                .stores
                .objects
                .get_object(tenant, req.object_id, req.version_id)
                .await?
                .is_none()
        {
            record_photo(
                &state,
                &caller,
                tenant,
                &req,
                &upload,
                format!("assembled:{}", upload.size),
            )
            .await?;
        }
        upload.completed = true;
        state.stores.objects.put_upload(tenant, &upload).await?;
        let e = super::reports::client_entry(
            &state,
            &caller,
            super::reports::PHOTO_UPLOAD,
            upload.client_id,
            Some(req.object_id.to_string()),
            1,
        );
        state.stores.audit.append_entries(tenant, &[e]).await?;
    }
    Ok(Json(
        serde_json::json!({"object_id": req.object_id, "version_id": req.version_id, "size": upload.size}),
    ))
}

/// Enters an uploaded photo content version into the change feed.
async fn record_photo(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    req: &UploadComplete,
    upload: &UploadState,
    sha256: String,
) -> ApiResult<()> {
    {
        let stored = StoredObject {
            object_id: req.object_id,
            version_id: req.version_id,
            kind: Kind::PhotoContent as u8,
            client_id: Some(upload.client_id),
            parent_version: None,
            seq: 0,
            sha256,
            size: upload.size,
            envelope: None,
            device_id: caller.device.device_id,
            created_at_ms: state.now(),
        };
        match state.stores.objects.put_object(tenant, &stored).await? {
            PutOutcome::Created { .. } | PutOutcome::Duplicate { .. } => Ok(()),
            PutOutcome::Conflict => Err(ApiError::conflict(
                "conflict",
                "different content already stored for this version",
            )),
        }
    }
}

/// `POST /v1/tenants/{tenant}/downloads`
pub async fn download(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<DownloadUrl>> {
    let (tenant, caller, body) = authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: DownloadRequest = parse_body(Ok(body))?;
    let obj = state
        .stores
        .objects
        .get_object(tenant, req.object_id, req.version_id)
        .await?
        .filter(|o| o.kind == Kind::PhotoContent as u8)
        .ok_or_else(|| ApiError::not_found("no such photo"))?;
    if !may_access(&state, &caller, Kind::PhotoContent, obj.client_id).await? {
        return Err(ApiError::not_found("no such photo"));
    }
    let url = state
        .stores
        .blobs
        .presign_get(
            tenant,
            BlobKey {
                object: req.object_id,
                version: req.version_id,
            },
            DOWNLOAD_URL_TTL_S,
        )
        .await?;
    let mut e = super::reports::entry(
        &state,
        &caller,
        super::reports::PHOTO_DOWNLOAD,
        Some(req.object_id.to_string()),
    );
    if let Some(client) = obj.client_id {
        e.client = Some(client);
        e.count = Some(1);
    }
    state.stores.audit.append_entries(tenant, &[e]).await?;
    Ok(Json(DownloadUrl {
        url,
        size: obj.size,
        expires_in_s: DOWNLOAD_URL_TTL_S,
    }))
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
                "bad_url",
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
                "bad_url",
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
