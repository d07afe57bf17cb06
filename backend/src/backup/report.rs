//! The comparison of a restored tenant with its source: [`compare`] two inventories, or
//! [`verify`] a tenant in two stores directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ward_proto::{Kind, TenantId};

use super::{BackupResult, Digest, Inventory, inventory};
use crate::store::Stores;

/// Per-kind or per-collection counts, source against restored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// In the source (the manifest).
    pub source: u64,
    /// In the restored store.
    pub restored: u64,
}

/// The comparison of a restored tenant with its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Nothing missing, mismatched, unexpected or otherwise different.
    pub ok: bool,
    /// Object versions per kind.
    pub objects: BTreeMap<String, Count>,
    /// Photo blobs.
    pub blobs: Count,
    /// Photo blob bytes.
    pub blob_bytes: Count,
    /// Tenant-key epochs.
    pub key_epochs: Count,
    /// Users.
    pub users: Count,
    /// Passkeys.
    pub credentials: Count,
    /// Devices.
    pub devices: Count,
    /// Care-team memberships.
    pub care_teams: Count,
    /// Completed photo uploads.
    pub uploads: Count,
    /// Quarantined versions.
    pub quarantine: Count,
    /// Audit entries.
    pub audit_entries: Count,
    /// Audit-chain links.
    pub chain_links: Count,
    /// Versions or blobs (`object/version`) in the source but not restored.
    pub missing: Vec<String>,
    /// Versions or blobs restored with another hash, metadata or feed position.
    pub mismatched: Vec<String>,
    /// Versions or blobs restored that the source does not have.
    pub unexpected: Vec<String>,
    /// Other differences (tenant record, keys, a collection's content).
    pub problems: Vec<String>,
    /// Defects of the source data itself, carried over unchanged.
    pub warnings: Vec<String>,
}

pub(crate) fn kind_name(k: u8) -> String {
    Kind::from_u8(k)
        .map(|k| format!("{k:?}"))
        .unwrap_or_else(|| format!("kind-{k}"))
}

/// Compares a restored inventory with its source.
pub fn compare(source: &Inventory, restored: &Inventory) -> Report {
    let mut r = Report {
        warnings: source.warnings.clone(),
        ..Default::default()
    };
    for f in source.objects.values() {
        r.objects.entry(kind_name(f.kind)).or_default().source += 1;
    }
    for f in restored.objects.values() {
        r.objects.entry(kind_name(f.kind)).or_default().restored += 1;
    }
    for (k, f) in &source.objects {
        match restored.objects.get(k) {
            None => r.missing.push(k.clone()),
            Some(g) if g != f => r.mismatched.push(k.clone()),
            Some(_) => {}
        }
    }
    for (k, b) in &source.blobs {
        match restored.blobs.get(k) {
            None => r.missing.push(format!("blob {k}")),
            Some(c) if c != b => r.mismatched.push(format!("blob {k}")),
            Some(_) => {}
        }
    }
    for k in restored.objects.keys() {
        if !source.objects.contains_key(k) {
            r.unexpected.push(k.clone());
        }
    }
    for k in restored.blobs.keys() {
        if !source.blobs.contains_key(k) {
            r.unexpected.push(format!("blob {k}"));
        }
    }
    let bytes = |i: &Inventory| i.blobs.values().map(|b| b.size).sum::<u64>();
    r.blobs = Count {
        source: source.blobs.len() as u64,
        restored: restored.blobs.len() as u64,
    };
    r.blob_bytes = Count {
        source: bytes(source),
        restored: bytes(restored),
    };
    r.key_epochs = Count {
        source: source.key_checks.len() as u64,
        restored: restored.key_checks.len() as u64,
    };
    if source.tenant_sha256 != restored.tenant_sha256 {
        r.problems.push("tenant record differs".into());
    }
    if source.key_checks != restored.key_checks {
        r.problems
            .push("tenant keys differ (an epoch is missing or unwraps to another key)".into());
    }
    if source.wipe_seed_check != restored.wipe_seed_check {
        r.problems.push("wipe-key seed differs".into());
    }
    let mut problems = Vec::new();
    let mut coll = |name: &str, a: &Digest, b: &Digest| {
        if a != b {
            problems.push(format!("{name} differ"));
        }
        Count {
            source: a.count,
            restored: b.count,
        }
    };
    r.users = coll("users", &source.users, &restored.users);
    r.credentials = coll("passkeys", &source.credentials, &restored.credentials);
    r.devices = coll("devices", &source.devices, &restored.devices);
    r.care_teams = coll("care teams", &source.care_teams, &restored.care_teams);
    r.uploads = coll("photo uploads", &source.uploads, &restored.uploads);
    r.quarantine = coll("quarantine", &source.quarantine, &restored.quarantine);
    r.audit_entries = coll("audit entries", &source.audit, &restored.audit);
    r.chain_links = coll(
        "audit chain links",
        &source.chain_links,
        &restored.chain_links,
    );
    r.problems.extend(problems);
    r.ok = r.missing.is_empty()
        && r.mismatched.is_empty()
        && r.unexpected.is_empty()
        && r.problems.is_empty();
    r
}

/// Compares a tenant in two stores (source and restored) directly.
pub async fn verify(source: &Stores, restored: &Stores, tenant: TenantId) -> BackupResult<Report> {
    Ok(compare(
        &inventory(source, tenant).await?,
        &inventory(restored, tenant).await?,
    ))
}
