//! Tenant-key release: the tenant keys (every epoch) sealed to a one-time X25519 key that the
//! requesting device generated for this request. Only approved devices get them; every release
//! is an audit event. The backend holds the unwrapped keys only in memory for the seal and
//! never uses them to decrypt anything.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use ward_proto::sealed::seal_to;

use super::{AppState, parse_body};
use crate::error::{ApiError, ApiResult};
pub use ward_proto::api::{ReleaseRequest, Released, encode_release_payload, release_context};

/// `POST /v1/tenants/{tenant}/keys/release` (approved device)
pub async fn release(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Released>> {
    let (tenant, caller, body) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    caller.require_active()?;
    let req: ReleaseRequest = parse_body(Ok(body))?;
    let public: [u8; 32] = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(req.ephemeral_public.trim_end_matches('='))
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_public_key",
                    "ephemeral_public must be a 32-byte X25519 key, base64url",
                )
            })?
    };
    let t = state
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))?;
    let wrapped = state.stores.tenants.tenant_keys(tenant).await?;
    let mut keys = Vec::with_capacity(wrapped.len());
    for w in &wrapped {
        let key = state
            .stores
            .keys
            .unwrap_tenant_key(tenant, &t.key_ref, &w.wrapped)
            .await?;
        keys.push((w.epoch, key));
    }
    let epochs: Vec<u32> = keys.iter().map(|(e, _)| *e).collect();
    let payload = encode_release_payload(keys.iter().map(|(e, k)| (*e, k.as_slice())));
    let sealed = seal_to(&public, &release_context(tenant), &payload)
        .map_err(|e| ApiError::bad_request("bad_public_key", e.to_string()))?;
    caller
        .audit(
            &state,
            "tenant_key.release",
            Some(format!("epochs {epochs:?}")),
        )
        .await?;
    Ok(Json(Released {
        current_epoch: t.current_epoch,
        epochs,
        sealed,
    }))
}
