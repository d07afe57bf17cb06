//! What must survive a restore, in comparable form: the [`Inventory`] of a tenant's data (counts,
//! hashes, key check values), the archive's [`Manifest`], and the builder that computes both
//! from records as they are exported, read or restored.

use std::collections::BTreeMap;

use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use ward_proto::{Kind, ObjectId, TenantId, VersionId};

use super::record::Record;
use super::{BackupResult, RESTORE_ACTION};
use crate::model::{StoredObject, Tenant};

/// Count and SHA-256 of a collection of records (canonical JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// How many.
    pub count: u64,
    /// SHA-256 (hex) over the records' JSON: in order for ordered collections (audit, chain),
    /// sorted otherwise.
    pub sha256: String,
}

/// What is known about one object version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectFacts {
    /// Its index in the change feed (0-based; `seq` itself may be renumbered).
    pub position: u64,
    /// Envelope kind.
    pub kind: u8,
    /// SHA-256 (hex) of its inline envelope, or `None` for a photo stored as a blob.
    pub envelope_sha256: Option<String>,
    /// SHA-256 over the rest of its metadata (ids, parent, client, device, stored hash, size,
    /// receive time) as JSON.
    pub meta_sha256: String,
}

/// What is known about one photo blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobFacts {
    /// Bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// Everything that must survive a restore, in comparable form. The archive's [`Manifest`]
/// is this for the exported data; [`inventory`] computes it from a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// SHA-256 over the tenant record (id, name, epoch, created, policy, wipe public key).
    pub tenant_sha256: String,
    /// Tenant-key epochs (as decimal strings: JSON keys) and their key check values
    /// (HMAC-SHA256 of a fixed label under the key, 8 bytes hex): equal values prove the same key unwraps in both stores.
    pub key_checks: BTreeMap<String, String>,
    /// Key check value of the wipe-key seed.
    pub wipe_seed_check: Option<String>,
    /// Users.
    pub users: Digest,
    /// Passkeys.
    pub credentials: Digest,
    /// Devices (status, wipe state and all).
    pub devices: Digest,
    /// Care-team memberships.
    pub care_teams: Digest,
    /// Per-client key generations, as stored (sealed under the client-wrapping key, whose
    /// check value is `key_checks["0"]`). Absent from archives made before client keys.
    #[serde(default = "no_records")]
    pub client_keys: Digest,
    /// The erasure ledger (ADR 0016). Absent from archives made before erasure.
    #[serde(default = "no_records")]
    pub erasures: Digest,
    /// Completed photo uploads.
    pub uploads: Digest,
    /// Quarantined versions.
    pub quarantine: Digest,
    /// Audit entries in log order (restore entries left out).
    pub audit: Digest,
    /// Audit-chain links, per device in seq order.
    pub chain_links: Digest,
    /// Every object version, by `object/version`.
    pub objects: BTreeMap<String, ObjectFacts>,
    /// Every photo blob, by `object/version`.
    pub blobs: BTreeMap<String, BlobFacts>,
    /// Defects found in the data itself (an inline envelope whose stored SHA-256 is not its
    /// hash, a photo version without its blob): carried over as they are, and reported.
    pub warnings: Vec<String>,
}

/// The archive's manifest: the exported data's inventory and a hash over the whole stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of the record stream.
    pub format: u32,
    /// The tenant.
    pub tenant: TenantId,
    /// Archive id (hex).
    pub archive_id: String,
    /// When exported.
    pub created_at_ms: i64,
    /// SHA-256 (hex) over every record before the manifest, as encoded.
    pub content_sha256: String,
    /// What the archive holds.
    pub inventory: Inventory,
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(digest(&SHA256, b))
}

fn key_check(key: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, b"ward backup key check v1");
    hex::encode(&tag.as_ref()[..8])
}

fn version_key(object: ObjectId, version: VersionId) -> String {
    format!("{object}/{version}")
}

/// Collects an [`Inventory`] from records as they are exported, read or restored.
#[derive(Default)]
pub(super) struct InventoryBuilder {
    inv: Inventory,
    tenant: Option<Tenant>,
    users: Vec<String>,
    credentials: Vec<String>,
    devices: Vec<String>,
    care_teams: Vec<String>,
    client_keys: Vec<String>,
    erasures: Vec<String>,
    uploads: Vec<String>,
    quarantine: Vec<String>,
    audit: Option<Context>,
    chain: Option<Context>,
    photos: Vec<String>,
}

fn no_records() -> Digest {
    sorted_digest(Vec::new())
}

fn sorted_digest(mut items: Vec<String>) -> Digest {
    items.sort();
    let mut c = Context::new(&SHA256);
    for i in &items {
        c.update(&(i.len() as u64).to_be_bytes());
        c.update(i.as_bytes());
    }
    Digest {
        count: items.len() as u64,
        sha256: hex::encode(c.finish()),
    }
}

impl InventoryBuilder {
    pub(super) fn tenant(&mut self, t: &Tenant) {
        // What must survive: not the store-specific KEK reference or wrapped seed.
        let mut t = t.clone();
        t.key_ref = String::new();
        if let Some(w) = t.wipe_key.as_mut() {
            w.wrapped_seed = Vec::new();
        }
        self.tenant = Some(t);
    }

    pub(super) fn key(&mut self, epoch: u32, plain: &[u8]) {
        self.inv
            .key_checks
            .insert(epoch.to_string(), key_check(plain));
    }

    pub(super) fn wipe_seed(&mut self, plain: &[u8]) {
        self.inv.wipe_seed_check = Some(key_check(plain));
    }

    fn json<T: Serialize>(v: &T) -> BackupResult<String> {
        Ok(serde_json::to_string(v)?)
    }

    pub(super) fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        match rec {
            Record::Tenant { tenant } => self.tenant(tenant),
            Record::TenantKey { .. } | Record::Manifest { .. } => {}
            Record::User { user } => self.users.push(Self::json(user)?),
            Record::ClientKey { key } => self.client_keys.push(Self::json(key)?),
            Record::Erasure { erasure } => self.erasures.push(Self::json(erasure)?),
            Record::Credential { credential } => self.credentials.push(Self::json(credential)?),
            Record::Device { device } => self.devices.push(Self::json(device)?),
            Record::CareTeam { client, user } => self.care_teams.push(format!("{client}#{user}")),
            Record::Object { object, inline } => self.object(object, inline.then_some(data))?,
            Record::Upload { upload } => self.uploads.push(Self::json(upload)?),
            Record::Blob { object, version } => {
                self.inv.blobs.insert(
                    version_key(*object, *version),
                    BlobFacts {
                        size: data.len() as u64,
                        sha256: sha_hex(data),
                    },
                );
            }
            Record::Quarantine { item } => self.quarantine.push(Self::json(item)?),
            Record::Audit { entry } => {
                if entry.record.action != RESTORE_ACTION {
                    let j = Self::json(entry)?;
                    let c = self.audit.get_or_insert_with(|| Context::new(&SHA256));
                    c.update(&(j.len() as u64).to_be_bytes());
                    c.update(j.as_bytes());
                    self.inv.audit.count += 1;
                }
            }
            Record::ChainLink { device, link } => {
                let j = format!("{device} {}", Self::json(link)?);
                let c = self.chain.get_or_insert_with(|| Context::new(&SHA256));
                c.update(&(j.len() as u64).to_be_bytes());
                c.update(j.as_bytes());
                self.inv.chain_links.count += 1;
            }
        }
        Ok(())
    }

    fn object(&mut self, o: &StoredObject, envelope: Option<&[u8]>) -> BackupResult<()> {
        let key = version_key(o.object_id, o.version_id);
        let envelope_sha256 = envelope.map(sha_hex);
        if let Some(h) = &envelope_sha256 {
            if *h != o.sha256 {
                self.inv
                    .warnings
                    .push(format!("{key}: stored SHA-256 is not the envelope's hash"));
            }
        } else if o.kind == Kind::PhotoContent as u8 {
            self.photos.push(key.clone());
        }
        let mut meta = o.clone();
        meta.seq = 0;
        meta.envelope = None;
        let facts = ObjectFacts {
            position: self.inv.objects.len() as u64,
            kind: o.kind,
            envelope_sha256,
            meta_sha256: sha_hex(Self::json(&meta)?.as_bytes()),
        };
        if self.inv.objects.insert(key.clone(), facts).is_some() {
            self.inv
                .warnings
                .push(format!("{key}: appears twice in the change feed"));
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> BackupResult<Inventory> {
        self.inv.tenant_sha256 = match &self.tenant {
            Some(t) => sha_hex(Self::json(t)?.as_bytes()),
            None => String::new(),
        };
        self.inv.users = sorted_digest(self.users);
        self.inv.credentials = sorted_digest(self.credentials);
        self.inv.devices = sorted_digest(self.devices);
        self.inv.care_teams = sorted_digest(self.care_teams);
        self.inv.client_keys = sorted_digest(self.client_keys);
        self.inv.erasures = sorted_digest(self.erasures);
        self.inv.uploads = sorted_digest(self.uploads);
        self.inv.quarantine = sorted_digest(self.quarantine);
        let empty = || hex::encode(digest(&SHA256, b""));
        self.inv.audit.sha256 = self
            .audit
            .map(|c| hex::encode(c.finish()))
            .unwrap_or_else(empty);
        self.inv.chain_links.sha256 = self
            .chain
            .map(|c| hex::encode(c.finish()))
            .unwrap_or_else(empty);
        for p in &self.photos {
            if !self.inv.blobs.contains_key(p) {
                self.inv
                    .warnings
                    .push(format!("{p}: photo version without its blob"));
            }
        }
        Ok(self.inv)
    }
}
