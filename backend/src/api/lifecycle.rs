//! Device lifecycle after approval: revocation side effects (key rotation, the signed wipe
//! command), tenant lockdown, the revoked device's rescue upload and wipe receipt, the
//! quarantine an admin reviews, and the clinic's policies.
//!
//! Revoking a device kills its sessions, moves the tenant key to a new epoch (released only to
//! devices still active, so the revoked phone's keys cannot open anything written afterwards),
//! and queues a [`WipeCommand`] signed with the tenant's wipe key, which the device pinned at
//! enrollment. The device receives it as `410 wipe_required` at its next request, may upload
//! its unsynced records once to quarantine (tenant policy `rescue_on_wipe`), shreds its vault
//! and sends a receipt signed with its own device key; the admin then sees "wiped at …" and
//! accepts each rescued version into the record or rejects it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use ward_proto::api::{MAX_PUSH_OBJECTS, PushRequest, PushResult, PushStatus};
use ward_proto::wipe::{SignedReceipt, WipeCommand, WipeSigner};
use ward_proto::{DeviceId, Kind, TenantId, VersionId};

use super::auth::{Caller, authed_admin};
use super::{AppState, parse_body, path_id};
use crate::error::{ApiError, ApiResult, StoreError};
use crate::model::{
    DeviceStatus, QuarantineItem, QuarantineStatus, Tenant, TenantPolicy, WipeReceiptRecord,
    WipeState, WrappedTenantKey,
};

async fn tenant_record(state: &AppState, tenant: TenantId) -> ApiResult<Tenant> {
    state
        .stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("no such tenant"))
}

/// Moves the tenant key to a new epoch and returns it. Concurrent rotations are serialized by
/// the store's conditional epoch update; the loser re-reads and tries again.
pub async fn rotate_epoch(state: &AppState, tenant: TenantId) -> ApiResult<u32> {
    for _ in 0..5 {
        let t = tenant_record(state, tenant).await?;
        let next = t.current_epoch + 1;
        let (_plain, wrapped) = state
            .stores
            .keys
            .generate_tenant_key(tenant, &t.key_ref)
            .await?;
        let key = WrappedTenantKey {
            epoch: next,
            wrapped,
            created_at_ms: state.now(),
        };
        match state.stores.tenants.put_tenant_key(tenant, &key).await {
            Ok(()) => {}
            // Another rotation wrote this epoch's key first: go again from the new epoch.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        match state
            .stores
            .tenants
            .set_current_epoch(tenant, t.current_epoch, next)
            .await
        {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "rotation_contended",
        "the tenant key is being rotated concurrently; try again",
    ))
}

/// Signs and records a wipe command for `device`; returns its id (`None` for a tenant created
/// before wipe keys existed: the device is still revoked, but cannot be told to wipe).
async fn queue_wipe(state: &AppState, t: &Tenant, device: DeviceId) -> ApiResult<Option<String>> {
    let Some(wipe_key) = &t.wipe_key else {
        tracing::warn!(tenant = %t.id, "tenant has no wipe key: revoked device gets no wipe");
        return Ok(None);
    };
    let seed = state
        .stores
        .keys
        .unwrap_tenant_key(t.id, &t.key_ref, &wipe_key.wrapped_seed)
        .await?;
    let signer = WipeSigner::from_seed(&seed).map_err(ApiError::internal)?;
    let command = WipeCommand {
        version: 1,
        tenant: t.id,
        device,
        command_id: crate::tenants::random_token(12)?,
        issued_at_ms: state.now(),
        rescue: t.policy.rescue_on_wipe,
    };
    let signed = signer.sign(&command).map_err(ApiError::internal)?;
    let wipe = WipeState {
        command_id: command.command_id.clone(),
        issued_at_ms: command.issued_at_ms,
        rescue: command.rescue,
        signed,
        receipt: None,
    };
    state
        .stores
        .lifecycle
        .set_device_wipe(t.id, device, &wipe)
        .await?;
    Ok(Some(command.command_id))
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    /// The device.
    pub device_id: DeviceId,
    /// Its new state.
    pub status: DeviceStatus,
    /// Sessions killed.
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
    /// The queued wipe command.
    pub wipe_command_id: Option<String>,
}

/// The side effects of revoking `device` (already moved to `revoked`): sessions, wipe command.
/// The caller rotates the key (once, also for a lockdown of many devices).
pub async fn after_revoke(
    state: &AppState,
    t: &Tenant,
    device: DeviceId,
) -> ApiResult<(u32, Option<String>)> {
    let killed = state
        .stores
        .devices
        .revoke_device_sessions(t.id, device)
        .await?;
    let command = queue_wipe(state, t, device).await?;
    Ok((killed, command))
}

/// Revokes one device: status, sessions, key rotation, wipe command.
pub async fn revoke_device(
    state: &AppState,
    caller: &Caller,
    device: DeviceId,
) -> ApiResult<Revoked> {
    let t = tenant_record(state, caller.tenant).await?;
    let (sessions_revoked, wipe_command_id) = after_revoke(state, &t, device).await?;
    let epoch = rotate_epoch(state, caller.tenant).await?;
    caller
        .audit(state, "tenant_key.rotate", Some(format!("epoch {epoch}")))
        .await?;
    Ok(Revoked {
        device_id: device,
        status: DeviceStatus::Revoked,
        sessions_revoked,
        epoch,
        wipe_command_id,
    })
}

/// Result of a lockdown.
#[derive(Debug, Clone, Serialize)]
pub struct Lockdown {
    /// Devices revoked (every device but the caller's).
    pub devices_revoked: u32,
    /// Sessions killed, the caller's own included.
    pub sessions_revoked: u32,
    /// The tenant key epoch after rotation.
    pub epoch: u32,
}

/// `POST /v1/tenants/{tenant}/lockdown` (admin + step-up): revokes every device but the
/// caller's, queues their wipes, rotates the key once, and ends every session — the caller's
/// too (its device stays enrolled so the admin can sign in again with the passkey).
pub async fn lockdown(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Lockdown>> {
    let (tenant, caller, _) = authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    caller.require_step_up(state.now())?;
    let t = tenant_record(&state, tenant).await?;
    let own = caller.device.device_id;
    let (mut devices_revoked, mut sessions_revoked) = (0u32, 0u32);
    for d in state.stores.devices.list_devices(tenant).await? {
        if d.device_id == own {
            continue;
        }
        let moved = state
            .stores
            .devices
            .set_device_status(
                tenant,
                d.device_id,
                &[DeviceStatus::Pending, DeviceStatus::Active],
                DeviceStatus::Revoked,
            )
            .await?;
        if moved {
            let (killed, _) = after_revoke(&state, &t, d.device_id).await?;
            devices_revoked += 1;
            sessions_revoked += killed;
            caller
                .audit(&state, "device.revoke", Some(d.device_id.to_string()))
                .await?;
        }
    }
    let epoch = rotate_epoch(&state, tenant).await?;
    caller
        .audit(
            &state,
            "tenant.lockdown",
            Some(format!("{devices_revoked} devices, epoch {epoch}")),
        )
        .await?;
    sessions_revoked += state
        .stores
        .devices
        .revoke_device_sessions(tenant, own)
        .await?;
    Ok(Json(Lockdown {
        devices_revoked,
        sessions_revoked,
        epoch,
    }))
}

/// `GET /v1/tenants/{tenant}/policy` (any active member)
pub async fn policy_get(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TenantPolicy>> {
    let (tenant, _, _) =
        super::auth::authed_active(&state, &tenant, &method, &uri, &headers, body).await?;
    Ok(Json(tenant_record(&state, tenant).await?.policy))
}

/// `PUT /v1/tenants/{tenant}/policy` (admin + step-up)
pub async fn policy_put(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TenantPolicy>> {
    let (tenant, caller, body) =
        authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    caller.require_step_up(state.now())?;
    let policy: TenantPolicy = parse_body(Ok(body))?;
    policy
        .validate()
        .map_err(|m| ApiError::bad_request("invalid_policy", m))?;
    state
        .stores
        .lifecycle
        .set_tenant_policy(tenant, &policy)
        .await?;
    caller
        .audit(
            &state,
            "tenant.policy",
            Some(serde_json::to_string(&policy).map_err(ApiError::internal)?),
        )
        .await?;
    Ok(Json(policy))
}

/// `GET /v1/tenants/{tenant}/quarantine` (admin)
pub async fn quarantine_list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Vec<QuarantineItem>>> {
    let (tenant, _, _) = authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    Ok(Json(state.stores.lifecycle.list_quarantine(tenant).await?))
}

async fn decide(
    state: &AppState,
    tenant: &str,
    version: &str,
    to: QuarantineStatus,
    request: (&Method, &Uri, &HeaderMap, Result<Bytes, BytesRejection>),
) -> ApiResult<Json<QuarantineItem>> {
    let (method, uri, headers, body) = request;
    let (tenant, caller, _) = authed_admin(state, tenant, method, uri, headers, body).await?;
    let version: VersionId = path_id(version, "quarantined version")?;
    let item = state
        .stores
        .lifecycle
        .decide_quarantine(tenant, version, to, state.now())
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "already_decided",
                "no pending quarantined version with this id",
            )
        })?;
    if to == QuarantineStatus::Accepted {
        accept_into_record(state, tenant, &item).await?;
    }
    let action = match to {
        QuarantineStatus::Accepted => "quarantine.accept",
        _ => "quarantine.reject",
    };
    caller
        .audit(state, action, Some(item.version_id.to_string()))
        .await?;
    Ok(Json(item))
}

/// Stores an accepted version in the change feed, as if its device had pushed it.
async fn accept_into_record(
    state: &AppState,
    tenant: TenantId,
    item: &QuarantineItem,
) -> ApiResult<()> {
    use ring::digest::{SHA256, digest};
    let envelope = URL_SAFE_NO_PAD
        .decode(&item.envelope)
        .map_err(ApiError::internal)?;
    let stored = crate::model::StoredObject {
        object_id: item.object_id,
        version_id: item.version_id,
        kind: item.kind,
        client_id: item.client_id,
        parent_version: item.parent_version,
        seq: 0,
        sha256: hex::encode(digest(&SHA256, &envelope)),
        size: envelope.len() as u64,
        envelope: Some(envelope),
        device_id: item.device_id,
        created_at_ms: state.now(),
    };
    state.stores.objects.put_objects(tenant, &[stored]).await?;
    // A client record created offline on the lost phone: its author joins the care team, as
    // a push would have done.
    if Kind::from_u8(item.kind) == Some(Kind::Client)
        && let Some(d) = state
            .stores
            .devices
            .get_device(tenant, item.device_id)
            .await?
    {
        state
            .stores
            .identity
            .add_care_team(tenant, item.object_id, d.user_id)
            .await?;
    }
    Ok(())
}

/// `POST /v1/tenants/{tenant}/quarantine/{version}/accept` (admin)
pub async fn quarantine_accept(
    State(state): State<AppState>,
    Path((tenant, version)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<QuarantineItem>> {
    let req = (&method, &uri, &headers, body);
    decide(&state, &tenant, &version, QuarantineStatus::Accepted, req).await
}

/// `POST /v1/tenants/{tenant}/quarantine/{version}/reject` (admin)
pub async fn quarantine_reject(
    State(state): State<AppState>,
    Path((tenant, version)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<QuarantineItem>> {
    let req = (&method, &uri, &headers, body);
    decide(&state, &tenant, &version, QuarantineStatus::Rejected, req).await
}

/// `POST /v1/tenants/{tenant}/wipe/quarantine` (a revoked device with a pending wipe): its
/// unsynced record versions, checked like a push and kept apart for an admin's decision.
pub async fn wipe_quarantine(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Vec<PushResult>>> {
    let (tenant, caller, body) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let wipe = caller.require_wiping()?;
    if !wipe.rescue {
        return Err(ApiError::forbidden(
            "the clinic's policy does not rescue records on wipe",
        ));
    }
    let req: PushRequest = parse_body(Ok(body))?;
    if req.objects.len() > MAX_PUSH_OBJECTS {
        return Err(ApiError::bad_request(
            "too_many_objects",
            format!("at most {MAX_PUSH_OBJECTS} versions per request"),
        ));
    }
    let mut results = Vec::with_capacity(req.objects.len());
    let mut stored_count = 0u32;
    for (i, item) in req.objects.iter().enumerate() {
        let c = match super::sync::validate(&state, &caller, tenant, i, item) {
            Ok(c) => c,
            Err(rejected) => {
                results.push(rejected);
                continue;
            }
        };
        let s = c.stored;
        let q = QuarantineItem {
            object_id: s.object_id,
            version_id: s.version_id,
            kind: s.kind,
            client_id: s.client_id,
            parent_version: s.parent_version,
            device_id: caller.device.device_id,
            received_at_ms: state.now(),
            status: QuarantineStatus::Pending,
            decided_at_ms: None,
            envelope: item.envelope.trim_end_matches('=').to_string(),
        };
        let fresh = state.stores.lifecycle.put_quarantine(tenant, &q).await?;
        stored_count += u32::from(fresh);
        results.push(PushResult {
            object_id: s.object_id,
            version_id: s.version_id,
            status: if fresh {
                PushStatus::Created
            } else {
                PushStatus::Duplicate
            },
            seq: None,
            reason: None,
        });
    }
    caller
        .audit(
            &state,
            "wipe.rescue",
            Some(format!("{stored_count} versions quarantined")),
        )
        .await?;
    Ok(Json(results))
}

/// `POST /v1/tenants/{tenant}/wipe/receipt` (a revoked device with a pending wipe): the
/// device-signed receipt; the device becomes `wiped`.
pub async fn wipe_receipt(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WipeState>> {
    let (tenant, caller, body) =
        super::auth::authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let wipe = caller.require_wiping()?.clone();
    let signed: SignedReceipt = parse_body(Ok(body))?;
    let receipt = signed
        .verify(&caller.device.public_key, tenant, caller.device.device_id)
        .map_err(|e| ApiError::bad_request("bad_receipt", e.to_string()))?;
    if receipt.command_id != wipe.command_id {
        return Err(ApiError::bad_request(
            "bad_receipt",
            "the receipt names another wipe command",
        ));
    }
    let mut done = wipe;
    done.receipt = Some(WipeReceiptRecord {
        wiped_at_ms: receipt.wiped_at_ms,
        received_at_ms: state.now(),
        rescued_versions: receipt.rescued_versions,
        unrescued_photos: receipt.unrescued_photos,
        signed,
    });
    state
        .stores
        .lifecycle
        .set_device_wipe(tenant, caller.device.device_id, &done)
        .await?;
    state
        .stores
        .devices
        .set_device_status(
            tenant,
            caller.device.device_id,
            &[DeviceStatus::Revoked],
            DeviceStatus::Wiped,
        )
        .await?;
    caller
        .audit(
            &state,
            "device.wiped",
            Some(format!(
                "{} rescued, {} photos lost",
                receipt.rescued_versions, receipt.unrescued_photos
            )),
        )
        .await?;
    Ok(Json(done))
}
