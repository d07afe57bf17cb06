//! Backup and restore of one tenant, and the drill that proves a backup restores.
//!
//! [`export`] writes everything a tenant needs to come back into an encrypted, authenticated
//! archive ([`archive`]): the tenant record (name, epoch, policy, wipe-key public half), every
//! tenant-key epoch and the wipe-key seed (unwrapped from the store's KEK and re-sealed under
//! the operator's archive key), users, passkeys, devices (with their wipe state), care teams,
//! every object version in change-feed order (envelopes exactly as stored), the completed photo
//! uploads and their blobs (envelopes, ciphertext), the quarantine, the audit log in order and
//! each device's accepted audit-chain links, and a [`Manifest`]: counts, the SHA-256 of every
//! envelope and blob, key check values, and a SHA-256 over the whole record stream.
//!
//! Sessions, request nonces, WebAuthn ceremonies, invites and unfinished photo uploads are
//! transient and left out: after a restore, people log in again, pending invites are re-issued
//! and devices restart an unfinished upload.
//!
//! Envelopes are bound by their AAD to the tenant id, so [`restore`] recreates the **same
//! tenant id** in a store that does not have it (a fresh deployment or region after a
//! disaster, or a wiped store): it refuses a target that already holds that tenant. The tenant
//! gets a new KEK in the target store and its keys are wrapped under it
//! ([`KeyVault::wrap_tenant_key`](crate::store::KeyVault::wrap_tenant_key)). Object versions
//! keep their ids, kinds, parents, client ids, device ids, stored SHA-256 and receive times; the
//! feed order is preserved but `seq` is renumbered by the target store (devices resync from
//! zero after a restore anyway). Restore reads the archive twice: first to authenticate every
//! frame and check the manifest (a tampered, truncated or reordered archive, or a wrong key,
//! writes nothing), then to write. It ends by reading the target back ([`inventory`]) and
//! comparing it with the manifest ([`compare`]): that report is the drill's result.
//!
//! No clinical plaintext exists at any point: envelopes and photo blobs are copied as
//! ciphertext; the only secrets handled in clear are tenant keys and the wipe seed, in
//! zeroizing memory, between unwrapping and re-sealing.

pub mod archive;
pub mod cli;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use ward_proto::{DeviceId, Kind, ObjectId, TenantId, VersionId};
use zeroize::Zeroizing;

pub use archive::{ArchiveKey, Header};

use crate::error::StoreError;
use crate::model::{
    AuditEntry, AuditRecord, ChainLink, Credential, Device, QuarantineItem, QuarantineStatus,
    StoredObject, Tenant, UploadState, User, WrappedTenantKey,
};
use crate::store::{AuditQuery, BlobKey, ChainEntry, PutOutcome, Stores};
use archive::{ArchiveReader, ArchiveWriter};

/// Audit action recorded in the source store when a tenant is exported (it is in the archive).
pub const EXPORT_ACTION: &str = "backup.export";
/// Audit action recorded in the target store after a restore. Entries with it are left out of
/// the comparison, since a restore adds one that its source never had.
pub const RESTORE_ACTION: &str = "backup.restore";
/// Objects per batch when reading the feed or writing it back.
const BATCH: u32 = 500;

/// Errors of backup and restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A storage call failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Reading or writing the archive failed.
    #[error("archive I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a Ward backup archive (or of an unknown format version).
    #[error("not a Ward backup archive (bad magic or format version)")]
    NotAnArchive,
    /// The archive key does not match the archive.
    #[error("wrong archive key: this archive was written under another key")]
    WrongKey,
    /// A frame failed authentication.
    #[error(
        "archive failed authentication at frame {frame}: it was tampered with, reordered or damaged"
    )]
    Auth {
        /// The first frame that failed.
        frame: u64,
    },
    /// The archive ends before its final frame.
    #[error("archive is truncated: its final frame is missing")]
    Truncated,
    /// Bytes follow the final frame.
    #[error("archive has data after its final frame")]
    TrailingData,
    /// The authenticated content is not a valid record stream.
    #[error("archive is malformed: {0}")]
    Malformed(String),
    /// The authenticated content does not match its own manifest.
    #[error("archive content does not match its manifest: {0}")]
    Manifest(String),
    /// The tenant to export does not exist.
    #[error("no tenant {0} in the source store")]
    NoSuchTenant(TenantId),
    /// The restore target already holds data of the tenant.
    #[error(
        "the target store already holds tenant {0}: restore only into a store without that tenant"
    )]
    TargetNotEmpty(TenantId),
    /// The archive key file is unusable.
    #[error("archive key: {0}")]
    Key(String),
    /// A cryptographic primitive failed (RNG, key setup).
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<serde_json::Error> for BackupError {
    fn from(e: serde_json::Error) -> Self {
        BackupError::Malformed(e.to_string())
    }
}

/// Result of backup operations.
pub type BackupResult<T> = Result<T, BackupError>;

/// One record of the archive's stream (the JSON meta part; the data part is noted per variant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Record {
    /// The tenant, with `key_ref` emptied and the wipe key's `wrapped_seed` emptied (both are
    /// the source store's); data: the wipe seed sealed under the archive, or empty.
    Tenant {
        tenant: Tenant,
    },
    /// A tenant-key epoch; data: the key sealed under the archive.
    TenantKey {
        epoch: u32,
        created_at_ms: i64,
    },
    User {
        user: User,
    },
    Credential {
        credential: Credential,
    },
    Device {
        device: Device,
    },
    CareTeam {
        client: ObjectId,
        user: uuid::Uuid,
    },
    /// An object version (its `envelope` emptied); data: the envelope if it was inline.
    Object {
        object: StoredObject,
        inline: bool,
    },
    /// A completed photo upload.
    Upload {
        upload: UploadState,
    },
    /// A photo blob; data: its bytes (an envelope).
    Blob {
        object: ObjectId,
        version: VersionId,
    },
    Quarantine {
        item: QuarantineItem,
    },
    Audit {
        entry: AuditEntry,
    },
    ChainLink {
        device: DeviceId,
        link: ChainLink,
    },
    /// Last record.
    Manifest {
        manifest: Box<Manifest>,
    },
}

// ---------------------------------------------------------------- inventory

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
struct InventoryBuilder {
    inv: Inventory,
    tenant: Option<Tenant>,
    users: Vec<String>,
    credentials: Vec<String>,
    devices: Vec<String>,
    care_teams: Vec<String>,
    uploads: Vec<String>,
    quarantine: Vec<String>,
    audit: Option<Context>,
    chain: Option<Context>,
    photos: Vec<String>,
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
    fn tenant(&mut self, t: &Tenant) {
        // What must survive: not the store-specific KEK reference or wrapped seed.
        let mut t = t.clone();
        t.key_ref = String::new();
        if let Some(w) = t.wipe_key.as_mut() {
            w.wrapped_seed = Vec::new();
        }
        self.tenant = Some(t);
    }

    fn key(&mut self, epoch: u32, plain: &[u8]) {
        self.inv
            .key_checks
            .insert(epoch.to_string(), key_check(plain));
    }

    fn wipe_seed(&mut self, plain: &[u8]) {
        self.inv.wipe_seed_check = Some(key_check(plain));
    }

    fn json<T: Serialize>(v: &T) -> BackupResult<String> {
        Ok(serde_json::to_string(v)?)
    }

    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        match rec {
            Record::Tenant { tenant } => self.tenant(tenant),
            Record::TenantKey { .. } | Record::Manifest { .. } => {}
            Record::User { user } => self.users.push(Self::json(user)?),
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

    fn finish(mut self) -> BackupResult<Inventory> {
        self.inv.tenant_sha256 = match &self.tenant {
            Some(t) => sha_hex(Self::json(t)?.as_bytes()),
            None => String::new(),
        };
        self.inv.users = sorted_digest(self.users);
        self.inv.credentials = sorted_digest(self.credentials);
        self.inv.devices = sorted_digest(self.devices);
        self.inv.care_teams = sorted_digest(self.care_teams);
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

// ---------------------------------------------------------------- walking a store

/// Receives a tenant's records in archive order.
trait Sink {
    /// A record and its data part.
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()>;
    /// The tenant record and its wipe seed in clear (the sink seals or checks it).
    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()>;
    /// A tenant-key epoch in clear.
    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()>;
}

/// Reads everything of `tenant` from `stores` in archive order into `sink`.
async fn walk(stores: &Stores, tenant: TenantId, sink: &mut impl Sink) -> BackupResult<()> {
    let t = stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or(BackupError::NoSuchTenant(tenant))?;
    let seed = match &t.wipe_key {
        Some(w) => Some(
            stores
                .keys
                .unwrap_tenant_key(tenant, &t.key_ref, &w.wrapped_seed)
                .await?,
        ),
        None => None,
    };
    sink.tenant(&t, seed.as_deref().map(|s| &s[..]))?;
    drop(seed);
    for k in stores.tenants.tenant_keys(tenant).await? {
        let plain = stores
            .keys
            .unwrap_tenant_key(tenant, &t.key_ref, &k.wrapped)
            .await?;
        sink.key(&k, &plain)?;
    }
    let users = stores.identity.list_users(tenant).await?;
    for user in &users {
        sink.record(&Record::User { user: user.clone() }, &[])?;
    }
    for user in &users {
        for credential in stores.identity.credentials(tenant, user.user_id).await? {
            sink.record(&Record::Credential { credential }, &[])?;
        }
    }
    let devices = stores.devices.list_devices(tenant).await?;
    for device in &devices {
        sink.record(
            &Record::Device {
                device: device.clone(),
            },
            &[],
        )?;
    }
    for (client, user) in stores.identity.list_care_teams(tenant).await? {
        sink.record(&Record::CareTeam { client, user }, &[])?;
    }
    let mut after = 0;
    loop {
        let page = stores.objects.changes(tenant, after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for mut o in page {
            let envelope = o.envelope.take();
            let inline = envelope.is_some();
            sink.record(
                &Record::Object {
                    object: o.clone(),
                    inline,
                },
                envelope.as_deref().unwrap_or_default(),
            )?;
            if inline {
                continue;
            }
            if let Some(upload) = stores
                .objects
                .get_upload(tenant, o.object_id, o.version_id)
                .await?
                .filter(|u| u.completed)
            {
                sink.record(&Record::Upload { upload }, &[])?;
            }
            let key = BlobKey {
                object: o.object_id,
                version: o.version_id,
            };
            if let Some(bytes) = stores.blobs.get_blob(tenant, key).await? {
                sink.record(
                    &Record::Blob {
                        object: o.object_id,
                        version: o.version_id,
                    },
                    &bytes,
                )?;
            }
        }
    }
    for item in stores.lifecycle.list_quarantine(tenant).await? {
        sink.record(&Record::Quarantine { item }, &[])?;
    }
    let mut q = AuditQuery {
        limit: BATCH,
        oldest_first: true,
        ..Default::default()
    };
    loop {
        let page = stores.audit.query(tenant, &q).await?;
        for (_, entry) in page.entries {
            sink.record(&Record::Audit { entry }, &[])?;
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    for device in &devices {
        for link in stores
            .audit
            .chain_links(tenant, device.device_id, 0, u64::MAX)
            .await?
        {
            sink.record(
                &Record::ChainLink {
                    device: device.device_id,
                    link,
                },
                &[],
            )?;
        }
    }
    Ok(())
}

impl Sink for InventoryBuilder {
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        InventoryBuilder::record(self, rec, data)
    }
    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()> {
        InventoryBuilder::tenant(self, tenant);
        if let Some(s) = wipe_seed {
            self.wipe_seed(s);
        }
        Ok(())
    }
    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()> {
        InventoryBuilder::key(self, key.epoch, plain);
        Ok(())
    }
}

/// Reads a tenant's [`Inventory`] from a store (every envelope and blob hashed, every key
/// unwrapped by the store's own KEK and checked).
pub async fn inventory(stores: &Stores, tenant: TenantId) -> BackupResult<Inventory> {
    let mut b = InventoryBuilder::default();
    walk(stores, tenant, &mut b).await?;
    b.finish()
}

// ---------------------------------------------------------------- export

fn key_context(tenant: TenantId, what: &str) -> Vec<u8> {
    format!("ward backup v1 tenant={tenant} {what}").into_bytes()
}

/// Writes records into the archive while building the manifest.
struct ExportSink<W: Write> {
    out: ArchiveWriter<W>,
    tenant: TenantId,
    content: Context,
    inv: InventoryBuilder,
}

impl<W: Write> ExportSink<W> {
    fn write(&mut self, rec: &Record, data: &[u8], hash: bool) -> BackupResult<()> {
        let meta = serde_json::to_vec(rec)?;
        let head = archive::record_head(&meta, data)?;
        if hash {
            self.content.update(&head);
            self.content.update(data);
        }
        self.out.write_all(&head)?;
        self.out.write_all(data)
    }

    fn seal(&self, what: &str, plain: &[u8]) -> BackupResult<Vec<u8>> {
        self.out
            .keys()
            .records
            .seal_small(&key_context(self.tenant, what), plain)
            .map_err(|_| BackupError::Crypto)
    }
}

impl<W: Write> Sink for ExportSink<W> {
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        self.inv.record(rec, data)?;
        self.write(rec, data, true)
    }

    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()> {
        let mut t = tenant.clone();
        t.key_ref = String::new();
        if let Some(w) = t.wipe_key.as_mut() {
            w.wrapped_seed = Vec::new();
        }
        let sealed = match wipe_seed {
            Some(s) => {
                self.inv.wipe_seed(s);
                self.seal("wipe seed", s)?
            }
            None => Vec::new(),
        };
        let rec = Record::Tenant { tenant: t };
        self.inv.record(&rec, &[])?;
        self.write(&rec, &sealed, true)
    }

    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()> {
        self.inv.key(key.epoch, plain);
        let sealed = self.seal(&format!("tenant key epoch={}", key.epoch), plain)?;
        let rec = Record::TenantKey {
            epoch: key.epoch,
            created_at_ms: key.created_at_ms,
        };
        self.write(&rec, &sealed, true)
    }
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportReport {
    /// Archive id (hex).
    pub archive_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// Archive size in bytes.
    pub archive_bytes: u64,
    /// The archive's manifest.
    pub manifest: Manifest,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Exports `tenant` from `stores` into an archive sealed under `key`, written to `writer`.
/// Records a `backup.export` audit entry first (so the archive holds the record of its own
/// export). Data written while the export runs may or may not be in the archive; the
/// manifest describes exactly what is.
pub async fn export<W: Write + Send>(
    stores: &Stores,
    tenant: TenantId,
    key: &ArchiveKey,
    writer: W,
) -> BackupResult<ExportReport> {
    if stores.tenants.get_tenant(tenant).await?.is_none() {
        return Err(BackupError::NoSuchTenant(tenant));
    }
    let mut archive_id = [0u8; 16];
    ward_proto::keys::fill_random(&mut archive_id).map_err(|_| BackupError::Crypto)?;
    let created_at_ms = now_ms();
    stores
        .audit
        .append(
            tenant,
            &AuditRecord {
                at_ms: created_at_ms,
                actor: "operator".into(),
                device_id: None,
                action: EXPORT_ACTION.into(),
                target: Some(hex::encode(archive_id)),
            },
        )
        .await?;
    let header = Header {
        archive_id,
        tenant,
        created_at_ms,
    };
    let mut sink = ExportSink {
        out: ArchiveWriter::new(writer, key, header)?,
        tenant,
        content: Context::new(&SHA256),
        inv: InventoryBuilder::default(),
    };
    walk(stores, tenant, &mut sink).await?;
    let ExportSink {
        out,
        content,
        inv,
        tenant: _,
    } = sink;
    let manifest = Manifest {
        format: 1,
        tenant,
        archive_id: hex::encode(archive_id),
        created_at_ms,
        content_sha256: hex::encode(content.finish()),
        inventory: inv.finish()?,
    };
    let mut out = out;
    let rec = Record::Manifest {
        manifest: Box::new(manifest.clone()),
    };
    let meta = serde_json::to_vec(&rec)?;
    out.write_all(&archive::record_head(&meta, &[])?)?;
    let archive_bytes = out.finish()?;
    Ok(ExportReport {
        archive_id: hex::encode(archive_id),
        tenant,
        archive_bytes,
        manifest,
    })
}

// ---------------------------------------------------------------- restore

/// Reads and checks a whole archive without writing anything: every frame authenticated,
/// every record parsed, the content hash and the inventory equal to the manifest's.
pub fn check_archive<R: Read>(reader: R, key: &ArchiveKey) -> BackupResult<(Header, Manifest)> {
    let mut r = ArchiveReader::open(reader, key)?;
    let header = r.header;
    let mut content = Context::new(&SHA256);
    let mut inv = InventoryBuilder::default();
    let mut manifest = None;
    while let Some((meta, data)) = r.next_record()? {
        let rec: Record = serde_json::from_slice(&meta)?;
        if manifest.is_some() {
            return Err(BackupError::Malformed("records after the manifest".into()));
        }
        match &rec {
            Record::Manifest { manifest: m } => {
                manifest = Some(m.clone());
                continue;
            }
            Record::Tenant { tenant } => {
                if tenant.id != header.tenant {
                    return Err(BackupError::Malformed(
                        "tenant record does not match the header".into(),
                    ));
                }
                if !data.is_empty() {
                    let seed = open_sealed(&r, header.tenant, "wipe seed", &data)?;
                    inv.wipe_seed(&seed);
                }
            }
            Record::TenantKey { epoch, .. } => {
                let plain = open_sealed(
                    &r,
                    header.tenant,
                    &format!("tenant key epoch={epoch}"),
                    &data,
                )?;
                inv.key(*epoch, &plain);
            }
            _ => {}
        }
        content.update(&archive::record_head(&meta, &data)?);
        content.update(&data);
        inv.record(&rec, &data)?;
    }
    let manifest = manifest.ok_or_else(|| BackupError::Malformed("no manifest".into()))?;
    if manifest.tenant != header.tenant || manifest.archive_id != hex::encode(header.archive_id) {
        return Err(BackupError::Manifest(
            "manifest names another archive".into(),
        ));
    }
    if manifest.content_sha256 != hex::encode(content.finish()) {
        return Err(BackupError::Manifest("content hash differs".into()));
    }
    if manifest.inventory != inv.finish()? {
        return Err(BackupError::Manifest("inventory differs".into()));
    }
    Ok((header, *manifest))
}

fn open_sealed<R: Read>(
    r: &ArchiveReader<R>,
    tenant: TenantId,
    what: &str,
    sealed: &[u8],
) -> BackupResult<Zeroizing<Vec<u8>>> {
    r.keys()
        .records
        .open_small(&key_context(tenant, what), sealed)
        .map_err(|_| BackupError::Malformed(format!("{what} does not open")))
}

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

fn kind_name(k: u8) -> String {
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

/// What [`restore`] did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Archive id (hex).
    pub archive_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// When the archive was written.
    pub exported_at_ms: i64,
    /// The restored tenant read back from the target store, compared with the manifest.
    pub report: Report,
}

/// Whether the target already has anything of `tenant`.
async fn target_has(stores: &Stores, tenant: TenantId) -> BackupResult<bool> {
    Ok(stores.tenants.get_tenant(tenant).await?.is_some()
        || !stores.tenants.tenant_keys(tenant).await?.is_empty()
        || !stores.identity.list_users(tenant).await?.is_empty()
        || !stores.devices.list_devices(tenant).await?.is_empty()
        || !stores.objects.changes(tenant, 0, 1).await?.is_empty())
}

/// Writes records into the target store.
struct Restorer<'a> {
    stores: &'a Stores,
    tenant: TenantId,
    key_ref: String,
    objects: Vec<StoredObject>,
    audit: Vec<AuditEntry>,
    chain: Vec<(DeviceId, ChainLink)>,
}

impl Restorer<'_> {
    async fn flush_objects(&mut self) -> BackupResult<()> {
        if self.objects.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.objects);
        let out = self.stores.objects.put_objects(self.tenant, &batch).await?;
        if out.len() != batch.len() || out.iter().any(|o| !matches!(o, PutOutcome::Created { .. }))
        {
            return Err(BackupError::TargetNotEmpty(self.tenant));
        }
        Ok(())
    }

    async fn flush_audit(&mut self) -> BackupResult<()> {
        let batch = std::mem::take(&mut self.audit);
        self.stores
            .audit
            .append_entries(self.tenant, &batch)
            .await?;
        Ok(())
    }

    async fn flush_chain(&mut self) -> BackupResult<()> {
        let links = std::mem::take(&mut self.chain);
        let mut i = 0;
        while i < links.len() {
            let device = links[i].0;
            let group: Vec<ChainEntry> = links[i..]
                .iter()
                .take_while(|(d, _)| *d == device)
                .map(|(_, link)| ChainEntry {
                    link: link.clone(),
                    entries: Vec::new(),
                })
                .collect();
            let stored = self
                .stores
                .audit
                .append_chain(self.tenant, device, &group)
                .await?;
            if stored != group.len() {
                return Err(BackupError::TargetNotEmpty(self.tenant));
            }
            i += group.len();
        }
        Ok(())
    }

    async fn apply<R: Read>(
        &mut self,
        r: &ArchiveReader<R>,
        rec: Record,
        data: Vec<u8>,
    ) -> BackupResult<()> {
        let (s, t) = (self.stores, self.tenant);
        if !matches!(rec, Record::Object { .. }) {
            self.flush_objects().await?;
        }
        match rec {
            Record::Tenant { mut tenant } => {
                self.key_ref = s.keys.create_tenant_kek(t).await?;
                tenant.key_ref = self.key_ref.clone();
                if let Some(w) = tenant.wipe_key.as_mut() {
                    let seed = open_sealed(r, t, "wipe seed", &data)?;
                    w.wrapped_seed = s.keys.wrap_tenant_key(t, &self.key_ref, &seed).await?;
                }
                s.tenants.create_tenant(&tenant).await?;
            }
            Record::TenantKey {
                epoch,
                created_at_ms,
            } => {
                let plain = open_sealed(r, t, &format!("tenant key epoch={epoch}"), &data)?;
                let wrapped = s.keys.wrap_tenant_key(t, &self.key_ref, &plain).await?;
                s.tenants
                    .put_tenant_key(
                        t,
                        &WrappedTenantKey {
                            epoch,
                            wrapped,
                            created_at_ms,
                        },
                    )
                    .await?;
            }
            Record::User { user } => s.identity.put_user(t, &user).await?,
            Record::Credential { credential } => s.identity.put_credential(t, &credential).await?,
            Record::Device { device } => s.devices.create_device(t, &device).await?,
            Record::CareTeam { client, user } => s.identity.add_care_team(t, client, user).await?,
            Record::Object { mut object, inline } => {
                object.envelope = inline.then_some(data);
                self.objects.push(object);
                if self.objects.len() >= BATCH as usize {
                    self.flush_objects().await?;
                }
            }
            Record::Upload { upload } => s.objects.put_upload(t, &upload).await?,
            Record::Blob { object, version } => {
                s.blobs
                    .put_blob(t, BlobKey { object, version }, &data)
                    .await?
            }
            Record::Quarantine { item } => {
                let decided = (item.status != QuarantineStatus::Pending)
                    .then_some((item.status, item.decided_at_ms));
                let pending = QuarantineItem {
                    status: QuarantineStatus::Pending,
                    decided_at_ms: None,
                    ..item.clone()
                };
                if !s.lifecycle.put_quarantine(t, &pending).await? {
                    return Err(BackupError::TargetNotEmpty(t));
                }
                if let Some((to, at)) = decided {
                    s.lifecycle
                        .decide_quarantine(
                            t,
                            item.version_id,
                            to,
                            at.unwrap_or(item.received_at_ms),
                        )
                        .await?;
                }
            }
            Record::Audit { entry } => {
                self.audit.push(entry);
                if self.audit.len() >= BATCH as usize {
                    self.flush_audit().await?;
                }
            }
            Record::ChainLink { device, link } => {
                self.flush_audit().await?;
                self.chain.push((device, link));
            }
            Record::Manifest { .. } => {
                self.flush_audit().await?;
                self.flush_chain().await?;
            }
        }
        Ok(())
    }
}

/// Restores an archive into `stores`, which must not hold its tenant. The archive is read
/// twice: [`check_archive`] first (nothing is written unless every frame authenticates and the
/// content matches its manifest), then the records are written and the tenant is read back
/// and compared with the manifest. Records a `backup.restore` audit entry at the end.
pub async fn restore<R: Read + Seek + Send>(
    stores: &Stores,
    key: &ArchiveKey,
    mut reader: R,
) -> BackupResult<RestoreReport> {
    let start = reader.stream_position()?;
    let (header, manifest) = check_archive(&mut reader, key)?;
    let tenant = header.tenant;
    if target_has(stores, tenant).await? {
        return Err(BackupError::TargetNotEmpty(tenant));
    }
    reader.seek(SeekFrom::Start(start))?;
    let mut r = ArchiveReader::open(&mut reader, key)?;
    let mut w = Restorer {
        stores,
        tenant,
        key_ref: String::new(),
        objects: Vec::new(),
        audit: Vec::new(),
        chain: Vec::new(),
    };
    while let Some((meta, data)) = r.next_record()? {
        let rec: Record = serde_json::from_slice(&meta)?;
        w.apply(&r, rec, data).await?;
    }
    let restored = inventory(stores, tenant).await?;
    let report = compare(&manifest.inventory, &restored);
    stores
        .audit
        .append(
            tenant,
            &AuditRecord {
                at_ms: now_ms(),
                actor: "operator".into(),
                device_id: None,
                action: RESTORE_ACTION.into(),
                target: Some(manifest.archive_id.clone()),
            },
        )
        .await?;
    Ok(RestoreReport {
        archive_id: manifest.archive_id,
        tenant,
        exported_at_ms: header.created_at_ms,
        report,
    })
}

// ---------------------------------------------------------------- drill

/// The result of [`drill`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReport {
    /// The restored tenant matches the archive's manifest.
    pub ok: bool,
    /// The tenant.
    pub tenant: TenantId,
    /// Archive id (hex).
    pub archive_id: String,
    /// Archive size in bytes.
    pub archive_bytes: u64,
    /// Export time.
    pub export_ms: u64,
    /// Restore time (check, write, read back, compare).
    pub restore_ms: u64,
    /// Where it was restored to.
    pub restored_into: String,
    /// Restored tenant against the manifest.
    pub report: Report,
}

/// The restore drill: exports `tenant` from `source` to an archive in `work` under a fresh
/// archive key (kept in memory only), restores it into a new embedded store in `work`, and
/// compares the restored tenant with the manifest. `work` should be empty and private; the
/// caller removes it.
pub async fn drill(
    source: &Stores,
    tenant: TenantId,
    work: &std::path::Path,
) -> BackupResult<DrillReport> {
    let key = ArchiveKey::generate()?;
    let path = work.join("tenant.wardbak");
    let started = std::time::Instant::now();
    let file = std::fs::File::create(&path)?;
    let exported = export(source, tenant, &key, std::io::BufWriter::new(file)).await?;
    let export_ms = started.elapsed().as_millis() as u64;
    let started = std::time::Instant::now();
    let target_dir = work.join("restored");
    let (target, _) = Stores::embedded(&target_dir, "http://localhost")?;
    let file = std::fs::File::open(&path)?;
    let restored = restore(&target, &key, std::io::BufReader::new(file)).await?;
    let restore_ms = started.elapsed().as_millis() as u64;
    Ok(DrillReport {
        ok: restored.report.ok,
        tenant,
        archive_id: exported.archive_id,
        archive_bytes: exported.archive_bytes,
        export_ms,
        restore_ms,
        restored_into: format!("a new embedded store in {}", target_dir.display()),
        report: restored.report,
    })
}
