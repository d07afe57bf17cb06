//! The breach-scope report of a device: every client whose data was delivered to it or created
//! on it and when, its last contact and last reported unlock, its audit chain's state, and its
//! wipe status and receipt — folded from the tenant's audit entries about the device.

use std::collections::BTreeMap;

use serde::Serialize;
use ward_proto::{DeviceId, ObjectId, TenantId};

use super::{
    CLIENT_CREATE, CLIENT_DELIVER, MAX_AUDIT_LIMIT, MAX_BREACH_PAGES, PHOTO_DOWNLOAD, PHOTO_UPLOAD,
};
use crate::domain::{Caller, DomainError, DomainResult, Env};
use crate::model::{AuditEntry, AuditSource, Device, DeviceStatus, Role};
use crate::store::AuditQuery;

/// The device a breach-scope report is about.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScopeDevice {
    /// Id.
    pub device_id: DeviceId,
    /// Name given at enrollment.
    pub name: String,
    /// Owner.
    pub user_id: uuid::Uuid,
    /// Owner's name, if the user still exists.
    pub user_name: Option<String>,
    /// Owner's role.
    pub user_role: Option<Role>,
    /// Lifecycle state.
    pub status: DeviceStatus,
    /// Enrollment time.
    pub enrolled_at_ms: i64,
    /// Last authenticated request (kept to the minute).
    pub last_contact_ms: i64,
    /// Latest vault unlock the device reported in its audit chain (device clock).
    pub last_unlock_ms: Option<i64>,
}

/// The device's remote wipe.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScopeWipe {
    /// `queued` (command issued, no receipt yet) or `confirmed` (device-signed receipt).
    pub status: String,
    /// Command id.
    pub command_id: String,
    /// When the command was issued.
    pub issued_at_ms: i64,
    /// Whether the device rescues unsynced records to quarantine first.
    pub rescue: bool,
    /// The verified receipt as recorded (`wiped_at_ms`, `received_at_ms`,
    /// `rescued_versions`, `unrescued_photos`, the device-signed receipt), once it wiped.
    pub receipt: Option<serde_json::Value>,
}

/// The wipe state as the device lifecycle records it on the device (read through its JSON so
/// this report follows that record without depending on its every field).
#[derive(Debug, serde::Deserialize)]
struct RecordedWipe {
    command_id: String,
    issued_at_ms: i64,
    #[serde(default)]
    rescue: bool,
    #[serde(default)]
    receipt: Option<serde_json::Value>,
}

fn wipe_of(d: &Device) -> Option<ScopeWipe> {
    let v = serde_json::to_value(d).ok()?.get("wipe").cloned()?;
    let w: RecordedWipe = serde_json::from_value(v).ok()?;
    let receipt = w.receipt.filter(|r| !r.is_null());
    Some(ScopeWipe {
        status: if receipt.is_some() {
            "confirmed".into()
        } else {
            "queued".into()
        },
        command_id: w.command_id,
        issued_at_ms: w.issued_at_ms,
        rescue: w.rescue,
        receipt,
    })
}

/// What one client's data did with respect to the device.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeClient {
    /// The client.
    pub client_id: Option<ObjectId>,
    /// First delivery of any of its versions or photos to the device.
    pub first_delivered_ms: Option<i64>,
    /// Last delivery.
    pub last_delivered_ms: Option<i64>,
    /// Record versions delivered (pulls).
    pub versions_delivered: u64,
    /// Photos delivered (download URLs issued).
    pub photos_delivered: u64,
    /// Record versions created on the device and stored by the server.
    pub versions_created: u64,
    /// Photos uploaded from the device.
    pub photos_created: u64,
    /// Last creation.
    pub last_created_ms: Option<i64>,
    /// Events about this client in the device's own audit chain (views, edits, …).
    pub device_events: u64,
    /// Latest of those (device clock).
    pub last_device_event_ms: Option<i64>,
}

/// Sums over the clients.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeTotals {
    /// Clients with any data on the device.
    pub clients: u64,
    /// Clients with data delivered to the device.
    pub clients_delivered: u64,
    /// Clients with data created on the device.
    pub clients_created: u64,
    /// Versions delivered.
    pub versions_delivered: u64,
    /// Photos delivered.
    pub photos_delivered: u64,
    /// Versions created.
    pub versions_created: u64,
    /// Photos created.
    pub photos_created: u64,
}

/// The state of the device's uploaded audit chain (how much to trust its events).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeChain {
    /// Device events received.
    pub events: u64,
    /// Highest seq accepted.
    pub head_seq: Option<u64>,
    /// Events stored with a flag (gap, break, foreign, late).
    pub flagged_events: u64,
    /// Server `audit.chain_*` entries about the device (including rewritten history).
    pub chain_alerts: u64,
}

/// The breach-scope report of a device.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BreachScope {
    /// When generated.
    pub generated_at_ms: i64,
    /// The device.
    pub device: ScopeDevice,
    /// Remote wipe (null: none issued).
    pub wipe: Option<ScopeWipe>,
    /// Per client, by client id.
    pub clients: Vec<ScopeClient>,
    /// Sums.
    pub totals: ScopeTotals,
    /// Its uploaded audit chain.
    pub chain: ScopeChain,
    /// False if the device's history was longer than one report reads (then narrow by time
    /// with the audit view).
    pub complete: bool,
}

fn min_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn max_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// Folds a device's audit entries into per-client exposure.
fn fold_scope(
    entries: impl IntoIterator<Item = AuditEntry>,
) -> (BTreeMap<ObjectId, ScopeClient>, Option<i64>, ScopeChain) {
    let mut clients: BTreeMap<ObjectId, ScopeClient> = BTreeMap::new();
    let mut last_unlock = None;
    let mut chain = ScopeChain::default();
    for e in entries {
        let at = e.record.at_ms;
        if e.source == AuditSource::Device {
            chain.events += 1;
            if e.chain.as_ref().is_some_and(|c| c.flag.is_some()) {
                chain.flagged_events += 1;
            }
            if e.record.action == "unlock" {
                last_unlock = max_opt(last_unlock, at);
            }
        } else if e.record.action.starts_with("audit.chain_") {
            chain.chain_alerts += 1;
        }
        let Some(client) = e.client else { continue };
        let c = clients.entry(client).or_insert_with(|| ScopeClient {
            client_id: Some(client),
            ..ScopeClient::default()
        });
        let n = e.count.unwrap_or(1);
        match (e.source, e.record.action.as_str()) {
            (AuditSource::Device, _) => {
                c.device_events += 1;
                c.last_device_event_ms = max_opt(c.last_device_event_ms, at);
            }
            (AuditSource::Server, CLIENT_DELIVER | PHOTO_DOWNLOAD) => {
                if e.record.action == CLIENT_DELIVER {
                    c.versions_delivered += n;
                } else {
                    c.photos_delivered += n;
                }
                c.first_delivered_ms = min_opt(c.first_delivered_ms, at);
                c.last_delivered_ms = max_opt(c.last_delivered_ms, at);
            }
            (AuditSource::Server, CLIENT_CREATE | PHOTO_UPLOAD) => {
                if e.record.action == CLIENT_CREATE {
                    c.versions_created += n;
                } else {
                    c.photos_created += n;
                }
                c.last_created_ms = max_opt(c.last_created_ms, at);
            }
            _ => {}
        }
    }
    (clients, last_unlock, chain)
}

/// Builds the breach-scope report of `device`.
pub async fn breach_scope_report(
    env: Env<'_>,
    tenant: TenantId,
    device: DeviceId,
) -> DomainResult<BreachScope> {
    let d = env
        .stores
        .devices
        .get_device(tenant, device)
        .await?
        .ok_or_else(|| DomainError::not_found("no such device"))?;
    let user = env.stores.identity.get_user(tenant, d.user_id).await?;
    let mut q = AuditQuery {
        device: Some(device),
        limit: MAX_AUDIT_LIMIT,
        oldest_first: true,
        ..AuditQuery::default()
    };
    let mut all = Vec::new();
    let mut complete = false;
    for _ in 0..MAX_BREACH_PAGES {
        let page = env.stores.audit.query(tenant, &q).await?;
        all.extend(page.entries.into_iter().map(|(_, e)| e));
        match page.next {
            Some(n) => q.after = Some(n),
            None => {
                complete = true;
                break;
            }
        }
    }
    let (clients, last_unlock_ms, mut chain) = fold_scope(all);
    chain.head_seq = env
        .stores
        .audit
        .chain_head(tenant, device)
        .await?
        .map(|h| h.seq);
    let clients: Vec<ScopeClient> = clients
        .into_values()
        .filter(|c| {
            c.versions_delivered
                + c.photos_delivered
                + c.versions_created
                + c.photos_created
                + c.device_events
                > 0
        })
        .collect();
    let mut totals = ScopeTotals {
        clients: clients.len() as u64,
        ..ScopeTotals::default()
    };
    for c in &clients {
        totals.clients_delivered += u64::from(c.versions_delivered + c.photos_delivered > 0);
        totals.clients_created += u64::from(c.versions_created + c.photos_created > 0);
        totals.versions_delivered += c.versions_delivered;
        totals.photos_delivered += c.photos_delivered;
        totals.versions_created += c.versions_created;
        totals.photos_created += c.photos_created;
    }
    let wipe = wipe_of(&d);
    Ok(BreachScope {
        generated_at_ms: env.now(),
        device: ScopeDevice {
            device_id: d.device_id,
            name: d.name.clone(),
            user_id: d.user_id,
            user_name: user.as_ref().map(|u| u.display_name.clone()),
            user_role: user.as_ref().map(|u| u.role),
            status: d.status,
            enrolled_at_ms: d.enrolled_at_ms,
            last_contact_ms: d.last_seen_ms,
            last_unlock_ms,
        },
        wipe,
        clients,
        totals,
        chain,
        complete,
    })
}

/// The breach-scope report of `device` for the caller, audited (`device.breach_scope`, with the
/// export `format`).
pub async fn breach_scope(
    env: Env<'_>,
    caller: &Caller,
    device: DeviceId,
    format: &str,
) -> DomainResult<BreachScope> {
    // An export (a file that leaves the console) needs a fresh passkey assertion.
    if format == "csv" {
        caller.require_step_up(env.now())?;
    }
    let report = breach_scope_report(env, caller.tenant, device).await?;
    caller
        .audit(
            env,
            "device.breach_scope",
            Some(format!(
                "device {device} clients={} format={format}",
                report.totals.clients,
            )),
        )
        .await?;
    Ok(report)
}
