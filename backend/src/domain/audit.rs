//! Server audit entries about what went to or came from a device, per client: the raw material
//! of the breach-scope report ([`super::reports`]).

use std::collections::BTreeMap;

use ward_proto::ObjectId;

use super::{Caller, DomainResult, Env};
use crate::model::{AuditEntry, AuditRecord};

/// Delivery of a client's record versions to a device (a pull page), `count` versions.
pub const CLIENT_DELIVER: &str = "client.deliver";
/// Versions of a client's records created on a device and stored (a push), `count` versions.
pub const CLIENT_CREATE: &str = "client.create";
/// A photo of a client handed to a device (download URL issued).
pub const PHOTO_DOWNLOAD: &str = "photo.download";
/// A photo of a client uploaded from a device.
pub const PHOTO_UPLOAD: &str = "photo.upload";

/// An audit entry for `caller` (who, which device, when).
pub fn entry(env: Env<'_>, caller: &Caller, action: &str, target: Option<String>) -> AuditEntry {
    AuditEntry::from(AuditRecord {
        at_ms: env.now(),
        actor: caller.actor(),
        device_id: Some(caller.device.device_id),
        action: action.into(),
        target,
    })
}

/// An audit entry saying `count` items of `client`'s data went to or came from the caller's
/// device (`action`: [`CLIENT_DELIVER`], [`CLIENT_CREATE`], [`PHOTO_DOWNLOAD`], …).
pub fn client_entry(
    env: Env<'_>,
    caller: &Caller,
    action: &str,
    client: ObjectId,
    target: Option<String>,
    count: u64,
) -> AuditEntry {
    let mut e = entry(
        env,
        caller,
        action,
        target.or_else(|| Some(client.to_string())),
    );
    e.client = Some(client);
    e.count = Some(count);
    e
}

/// One entry per client for `counts` (client → versions), in one batched store call.
pub async fn audit_clients(
    env: Env<'_>,
    caller: &Caller,
    action: &str,
    counts: &BTreeMap<ObjectId, u64>,
    mut extra: Vec<AuditEntry>,
) -> DomainResult<()> {
    extra.extend(
        counts
            .iter()
            .map(|(c, n)| client_entry(env, caller, action, *c, None, *n)),
    );
    Ok(env
        .stores
        .audit
        .append_entries(caller.tenant, &extra)
        .await?)
}
