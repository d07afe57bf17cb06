//! The tenant key: rotation to a new epoch (on revoke and lockdown) and release to a device.
//!
//! Tenant creation makes epoch 1 (`crate::tenants::create_tenant`); every later epoch is made
//! here, by [`rotate_epoch`]. A release seals every epoch's key to a one-time X25519 key that the
//! requesting device generated for the request; only approved devices get them and every release
//! is an audit event. The unwrapped keys exist only in memory for the seal; the backend never
//! decrypts anything with them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeSet;

use ward_proto::api::{ReleaseRequest, Released, encode_release_payload, release_context};
use ward_proto::client_keys::{client_release_context, encode_client_key_payload};
use ward_proto::errors::ErrorCode;
use ward_proto::sealed::seal_to;
use ward_proto::{ObjectId, TenantId};

use super::{Caller, DomainError, DomainResult, Env};
use crate::error::StoreError;
use crate::model::{CLIENT_WRAP_EPOCH, WrappedTenantKey};
use crate::store::KeyPurpose;

/// Moves the tenant key to a new epoch and returns it. Concurrent rotations are serialized by
/// the store's conditional epoch update; the loser re-reads and tries again.
pub async fn rotate_epoch(env: Env<'_>, tenant: TenantId) -> DomainResult<u32> {
    for _ in 0..5 {
        let t = env.tenant(tenant).await?;
        let next = t.current_epoch + 1;
        let (_plain, wrapped) = env
            .stores
            .keys
            .generate_tenant_key(tenant, &t.key_ref, KeyPurpose::TenantKey { epoch: next })
            .await?;
        let key = WrappedTenantKey {
            epoch: next,
            wrapped,
            created_at_ms: env.now(),
            purpose_bound: true,
        };
        match env.stores.tenants.put_tenant_key(tenant, &key).await {
            Ok(()) => {}
            // Another rotation wrote this epoch's key first: go again from the new epoch.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        match env
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
    Err(DomainError::conflict(
        ErrorCode::RotationContended,
        "the tenant key is being rotated concurrently; try again",
    ))
}

/// Releases every epoch of the caller's tenant key, sealed to `req.ephemeral_public`.
pub async fn release(
    env: Env<'_>,
    caller: &Caller,
    req: &ReleaseRequest,
) -> DomainResult<Released> {
    let tenant = caller.tenant;
    let public = x25519_public(&req.ephemeral_public, "ephemeral_public")?;
    let client_public = req
        .client_ephemeral_public
        .as_deref()
        .map(|p| x25519_public(p, "client_ephemeral_public"))
        .transpose()?;
    if client_public == Some(public) {
        return Err(DomainError::invalid(
            ErrorCode::BadPublicKey,
            "client_ephemeral_public must be a second one-time key, not ephemeral_public again",
        ));
    }
    let t = env.tenant(tenant).await?;
    let mut wrapped = env.stores.tenants.tenant_keys(tenant).await?;
    // The client-wrapping key sits beside the tenant keys and never leaves the server.
    wrapped.retain(|w| w.epoch != CLIENT_WRAP_EPOCH);
    let client_keys = match client_public {
        Some(_) => Some(super::client_keys::released_to(env, caller, &req.ensure).await?),
        None => None,
    };
    let mut keys = Vec::with_capacity(wrapped.len());
    for w in &wrapped {
        let key = env
            .stores
            .keys
            .unwrap_tenant_key(tenant, &t.key_ref, w.purpose(), &w.wrapped)
            .await?;
        keys.push((w.epoch, key));
    }
    // A revocation may have landed while the keys were read (its rotation's new key is then
    // in `wrapped`): check the device again, after the read, before anything leaves.
    let still_active = env
        .stores
        .devices
        .get_device(tenant, caller.device.device_id)
        .await?
        .is_some_and(|d| d.status == crate::model::DeviceStatus::Active);
    if !still_active {
        return Err(DomainError::forbidden(
            "this device is no longer active; no keys are released",
        ));
    }
    let epochs: Vec<u32> = keys.iter().map(|(e, _)| *e).collect();
    let payload = encode_release_payload(keys.iter().map(|(e, k)| (*e, k.as_slice())));
    let sealed = seal_to(&public, &release_context(tenant), &payload)
        .map_err(|e| DomainError::invalid(ErrorCode::BadPublicKey, e.to_string()))?;
    let client_keys = match (client_public, client_keys) {
        (Some(public), Some(keys)) => {
            let payload = encode_client_key_payload(
                keys.iter()
                    .map(|k| (k.client, k.generation, &k.key.expose_secret()[..])),
            );
            let sealed = seal_to(&public, &client_release_context(tenant), &payload)
                .map_err(|e| DomainError::invalid(ErrorCode::BadPublicKey, e.to_string()))?;
            let clients: BTreeSet<ObjectId> = keys.iter().map(|k| k.client).collect();
            caller
                .audit(
                    env,
                    "client_key.release",
                    Some(format!("{} keys of {} clients", keys.len(), clients.len())),
                )
                .await?;
            Some(sealed)
        }
        _ => None,
    };
    caller
        .audit(
            env,
            "tenant_key.release",
            Some(format!("epochs {epochs:?}")),
        )
        .await?;
    Ok(Released {
        current_epoch: t.current_epoch,
        epochs,
        sealed,
        client_keys,
    })
}

fn x25519_public(text: &str, field: &str) -> DomainResult<[u8; 32]> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            DomainError::invalid(
                ErrorCode::BadPublicKey,
                format!("{field} must be a 32-byte X25519 key, base64url"),
            )
        })
}
