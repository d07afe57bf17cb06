//! Device lifecycle after revocation: the revoked device's rescue upload and wipe receipt, and
//! the quarantine an admin reviews. Revocation and lockdown themselves (a resumable sequence of
//! steps) are in [`super::revocation`], re-exported here.
//!
//! A revoked device receives its signed wipe command as
//! `410 wipe_required` at its next request (see [`super::devices::admission`]), may upload its
//! unsynced records once to quarantine (tenant policy `rescue_on_wipe`), shreds its vault and
//! sends a receipt signed with its own device key; the admin then sees "wiped at …" and accepts
//! each rescued version into the record or rejects it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashSet;
use ward_proto::api::{MAX_PUSH_OBJECTS, PushRequest, PushResult, PushStatus};
use ward_proto::errors::ErrorCode;
use ward_proto::wipe::SignedReceipt;

use ward_proto::envelope::Header;
use ward_proto::{Kind, NoteState, ObjectId, TenantId, VersionId};

use super::sync::{AccessCache, Owners};
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{
    DeviceStatus, QuarantineItem, QuarantineStatus, Role, StoredObject, WipeReceiptRecord,
    WipeState,
};

pub use super::revocation::{Lockdown, Revoked, lockdown, queue_wipe, revoke_device, sweep};

/// Versions rescued by revoked devices.
pub async fn quarantine(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<QuarantineItem>> {
    Ok(env.stores.lifecycle.list_quarantine(caller.tenant).await?)
}

/// Accepts (into the record) or rejects a pending quarantined version.
///
/// Accepting stores the version in the record first and marks the item accepted after, so a
/// storage error loses nothing (the retry finds the item pending and the version stored: the
/// store is idempotent per version). Accepting a rescued client record makes its author a
/// member of the client's care team only if the client did not exist before (created offline
/// on the lost phone), never for an existing client: accepting grants no access.
pub async fn decide(
    env: Env<'_>,
    caller: &Caller,
    version: VersionId,
    to: QuarantineStatus,
) -> DomainResult<QuarantineItem> {
    let tenant = caller.tenant;
    let already = || {
        DomainError::conflict(
            ErrorCode::AlreadyDecided,
            "no pending quarantined version with this id",
        )
    };
    if to == QuarantineStatus::Accepted {
        let pending = env
            .stores
            .lifecycle
            .list_quarantine(tenant)
            .await?
            .into_iter()
            .find(|q| q.version_id == version && q.status == QuarantineStatus::Pending)
            .ok_or_else(already)?;
        accept_into_record(env, tenant, &pending).await?;
    }
    let item = env
        .stores
        .lifecycle
        .decide_quarantine(tenant, version, to, env.now())
        .await?
        .ok_or_else(already)?;
    let action = match to {
        QuarantineStatus::Accepted => "quarantine.accept",
        _ => "quarantine.reject",
    };
    caller
        .audit(env, action, Some(item.version_id.to_string()))
        .await?;
    Ok(item)
}

/// Stores an accepted version in the change feed, as if its device had pushed it.
async fn accept_into_record(
    env: Env<'_>,
    tenant: TenantId,
    item: &QuarantineItem,
) -> DomainResult<()> {
    use ring::digest::{SHA256, digest};
    let envelope = URL_SAFE_NO_PAD
        .decode(&item.envelope)
        .map_err(DomainError::internal)?;
    let note_state = Header::parse(&envelope).ok().and_then(|h| h.note);
    // A note signed since the rescue takes no further version (the same lock as a push).
    if Kind::from_u8(item.kind) == Some(Kind::Note)
        && let Some(head) = env
            .stores
            .objects
            .any_version(tenant, item.object_id)
            .await?
        && (head.locks() || note_state == Some(NoteState::Addendum))
        && head.version_id != item.version_id
        && env
            .stores
            .objects
            .get_object(tenant, item.object_id, item.version_id)
            .await?
            .is_none()
    {
        return Err(DomainError::conflict(
            ErrorCode::NoteLocked,
            super::sync::NOTE_LOCKED,
        ));
    }
    let is_client = Kind::from_u8(item.kind) == Some(Kind::Client);
    // Before the store: whether this client record creates the client.
    let creates_client = is_client
        && env
            .stores
            .objects
            .any_version(tenant, item.object_id)
            .await?
            .is_none_or(|o| o.device_id == item.device_id && o.version_id == item.version_id);
    let stored = StoredObject {
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
        created_at_ms: env.now(),
        note_state,
    };
    env.stores.objects.put_objects(tenant, &[stored]).await?;
    // A client record created offline on the lost phone: its author joins the care team, as
    // a push would have done. An existing client's team is left as it is.
    if creates_client
        && let Some(d) = env
            .stores
            .devices
            .get_device(tenant, item.device_id)
            .await?
    {
        env.stores
            .identity
            .add_care_team(tenant, item.object_id, d.user_id)
            .await?;
    }
    Ok(())
}

/// A revoked device's rescue upload (its wipe pending): its unsynced record versions, checked
/// like a push and kept apart for an admin's decision.
pub async fn rescue(
    env: Env<'_>,
    caller: &Caller,
    req: &PushRequest,
) -> DomainResult<Vec<PushResult>> {
    let tenant = caller.tenant;
    if req.objects.len() > MAX_PUSH_OBJECTS {
        return Err(DomainError::invalid(
            ErrorCode::TooManyObjects,
            format!("at most {MAX_PUSH_OBJECTS} versions per request"),
        ));
    }
    let mut results = Vec::with_capacity(req.objects.len());
    let mut stored_count = 0u32;
    let mut owners = Owners::default();
    owners
        .prefetch(env, tenant, req.objects.iter().map(|i| i.object_id))
        .await?;
    let mut access = AccessCache::new(env, caller);
    // Client records first: a client created offline on the lost phone may come with its notes.
    let mut order: Vec<usize> = (0..req.objects.len()).collect();
    order.sort_by_key(|i| req.objects[*i].kind != Kind::Client as u8);
    let mut new_clients: HashSet<ObjectId> = HashSet::new();
    let mut slots: Vec<Option<PushResult>> = vec![None; req.objects.len()];
    let erased = super::erasure::erased(env, tenant).await?;
    for i in order {
        let item = &req.objects[i];
        let c = match super::sync::validate(env, caller, i, item) {
            Ok(c) if erased.contains(&c.client) => {
                slots[i] = Some(super::sync::rejected(item, super::erasure::ERASED));
                continue;
            }
            Ok(c) => c,
            Err(rejected) => {
                slots[i] = Some(rejected);
                continue;
            }
        };
        // The same rules as a push: the object keeps its kind and client, and the device's
        // user must be allowed to write this kind for this client (a front-desk phone cannot
        // rescue notes into the record; a clinician only for clients on their care team, or a
        // client they created on this phone).
        let refusal = match owners.refusal(env, tenant, &c).await? {
            Some(why) => Some(why),
            None if c.kind == Kind::Client => {
                let new = !env.stores.objects.has_object(tenant, c.client).await?;
                if new && caller.role() == Role::Clinician {
                    new_clients.insert(c.client);
                    None
                } else if access.may(c.kind, Some(c.client)).await? {
                    None
                } else {
                    Some("not on this client's care team")
                }
            }
            None if new_clients.contains(&c.client)
                || access.may(c.kind, Some(c.client)).await? =>
            {
                None
            }
            None => Some("not on this client's care team"),
        };
        if let Some(why) = refusal {
            slots[i] = Some(super::sync::rejected(item, why));
            continue;
        }
        let s = c.stored;
        let q = QuarantineItem {
            object_id: s.object_id,
            version_id: s.version_id,
            kind: s.kind,
            client_id: s.client_id,
            parent_version: s.parent_version,
            device_id: caller.device.device_id,
            received_at_ms: env.now(),
            status: QuarantineStatus::Pending,
            decided_at_ms: None,
            envelope: item.envelope.trim_end_matches('=').to_string(),
        };
        let fresh = env.stores.lifecycle.put_quarantine(tenant, &q).await?;
        stored_count += u32::from(fresh);
        slots[i] = Some(PushResult {
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
    results.extend(slots.into_iter().flatten());
    caller
        .audit(
            env,
            "wipe.rescue",
            Some(format!("{stored_count} versions quarantined")),
        )
        .await?;
    Ok(results)
}

/// Refuses a rescue upload unless the device's wipe is pending and allows one. Checked before
/// the body is read.
pub fn may_rescue(caller: &Caller) -> DomainResult<()> {
    if caller.require_wiping()?.rescue {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "the clinic's policy does not rescue records on wipe",
        ))
    }
}

/// A revoked device's signed wipe receipt: verified, recorded; the device becomes `wiped`.
pub async fn wipe_receipt(
    env: Env<'_>,
    caller: &Caller,
    wipe: WipeState,
    signed: SignedReceipt,
) -> DomainResult<WipeState> {
    record_receipt(env, caller.tenant, &caller.device, wipe, signed).await
}

/// The same receipt without a session: the receipt is signed by the device key itself, so it
/// proves itself. A wiped phone that lost its session (or never kept it, so that no signing
/// secret outlives the shred) delivers it here. Unknown devices, devices with no pending wipe
/// and receipts that do not verify are refused alike (`400 bad_receipt`), so nothing is learnt
/// by probing.
pub async fn wipe_receipt_public(
    env: Env<'_>,
    tenant: TenantId,
    signed: SignedReceipt,
) -> DomainResult<WipeState> {
    #[derive(serde::Deserialize)]
    struct Names {
        device: ward_proto::DeviceId,
    }
    let bad = || DomainError::invalid(ErrorCode::BadReceipt, "not a receipt for a pending wipe");
    let names: Names = serde_json::from_str(&signed.receipt).map_err(|_| bad())?;
    let device = env
        .stores
        .devices
        .get_device(tenant, names.device)
        .await?
        .ok_or_else(bad)?;
    let wipe = match (&device.status, &device.wipe) {
        (DeviceStatus::Revoked, Some(w)) if w.receipt.is_none() => w.clone(),
        _ => return Err(bad()),
    };
    record_receipt(env, tenant, &device, wipe, signed).await
}

async fn record_receipt(
    env: Env<'_>,
    tenant: TenantId,
    device: &crate::model::Device,
    wipe: WipeState,
    signed: SignedReceipt,
) -> DomainResult<WipeState> {
    let receipt = signed
        .verify(&device.public_key, tenant, device.device_id)
        .map_err(|e| DomainError::invalid(ErrorCode::BadReceipt, e.to_string()))?;
    if receipt.command_id != wipe.command_id {
        return Err(DomainError::invalid(
            ErrorCode::BadReceipt,
            "the receipt names another wipe command",
        ));
    }
    let mut done = wipe;
    done.receipt = Some(WipeReceiptRecord {
        wiped_at_ms: receipt.wiped_at_ms,
        received_at_ms: env.now(),
        rescued_versions: receipt.rescued_versions,
        unrescued_photos: receipt.unrescued_photos,
        signed,
    });
    env.stores
        .lifecycle
        .set_device_wipe(tenant, device.device_id, &done)
        .await?;
    env.stores
        .devices
        .set_device_status(
            tenant,
            device.device_id,
            &[DeviceStatus::Revoked],
            DeviceStatus::Wiped,
        )
        .await?;
    let record = crate::model::AuditRecord {
        at_ms: env.now(),
        actor: device.user_id.to_string(),
        device_id: Some(device.device_id),
        action: "device.wiped".into(),
        target: Some(format!(
            "{} rescued, {} photos lost",
            receipt.rescued_versions, receipt.unrescued_photos
        )),
    };
    env.stores.audit.append(tenant, &record).await?;
    Ok(done)
}
