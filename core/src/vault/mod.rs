//! The encrypted on-device vault: lifecycle (create, open, unlock, lock, idle lock, wipe),
//! keys, and the object store every domain record goes through.
//!
//! Key hierarchy: the platform key store wraps the random *vault key*; the vault key seals the
//! tenant keys (one per epoch) and a key canary; tenant keys wrap each object version's content
//! key inside its envelope. Opening a vault needs no key; unlocking asks the key store for the
//! vault key (a biometric prompt on phones), checks the canary, then decrypts every record
//! into an in-memory [`index::Index`]. Locking drops and scrubs the keys and the index. Wiping
//! destroys the platform key first (crypto-shred) and then deletes every file.
//!
//! The vault owns its audit storage ([`audit`]): an event is appended in the same transaction
//! as the change it records, so the audit log sits here, below the domain use cases.
//! [`forget`] removes a client the user may no longer read (rows, files, index entries).

pub mod audit;
pub mod blobs;
pub mod client_keys;
pub mod forget;
mod guard;
pub mod index;
pub mod outbox;
pub mod schema;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ward_proto::{
    DeviceId, Kind, ObjectId, ObjectRef, SymmetricKey, TenantId, TenantKey, VersionId,
};

use crate::clock::{Clock, TimeFloor};
use crate::error::{CoreError, Result};
use crate::keystore::KeyStoreRef;
use audit::Action;
use blobs::BlobStore;
use index::Index;
use store::load_index;
pub use store::{NewVersion, insert_row};

const DB_FILE: &str = "vault.db";
const BLOB_DIR: &str = "blobs";
const CANARY: &[u8] = b"ward vault key canary v1";

/// Who this vault belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The clinic.
    pub tenant: TenantId,
    /// This device.
    pub device: DeviceId,
    /// The signed-in user.
    pub actor: String,
}

/// Tenant policies that the core enforces on the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(default)]
pub struct Policy {
    /// Lock after this many seconds without a call (0 = never).
    pub idle_lock_seconds: u32,
    /// Refuse photo capture without an active clinical consent.
    pub photo_consent_required: bool,
    /// EXIF tags kept at capture (default: orientation only).
    pub exif_keep_tags: Vec<u16>,
    /// Long edge of generated thumbnails, in pixels.
    pub thumbnail_max_edge: u32,
    /// A device that has not reached the server for this many hours wipes itself at the next
    /// start (0 = never).
    pub offline_lease_hours: u32,
    /// Warn the user this many hours before the lease runs out.
    pub lease_warning_hours: u32,
    /// Raise the "not synced" alarm when unsynced work is older than this many hours.
    pub unsynced_alarm_hours: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle_lock_seconds: 300,
            photo_consent_required: true,
            exif_keep_tags: vec![0x0112],
            thumbnail_max_edge: 320,
            offline_lease_hours: 14 * 24,
            lease_warning_hours: 3 * 24,
            unsynced_alarm_hours: 24,
        }
    }
}

/// Keys and decrypted records, present only while unlocked.
#[derive(Debug)]
pub struct Unlocked {
    /// The vault key.
    pub vault_key: SymmetricKey,
    /// Tenant keys held, all epochs.
    pub tenant_keys: Vec<TenantKey>,
    /// Client keys held, by client ([`client_keys`]).
    pub client_keys: client_keys::ClientKeys,
    /// Decrypted records.
    pub index: Index,
    /// A record could not be sealed for want of a client key since the last release (kept in
    /// memory too: the failed write's transaction, and the flag with it, rolled back).
    pub keys_wanted: bool,
}

impl Unlocked {
    /// The newest tenant key (new data is sealed under it).
    pub fn current_key(&self) -> Result<&TenantKey> {
        self.tenant_keys
            .iter()
            .max_by_key(|k| k.epoch)
            .ok_or(CoreError::Locked)
    }
}

#[derive(Debug)]
struct Inner {
    conn: Option<Connection>,
    ident: Identity,
    vault_id: [u8; 16],
    policy: Policy,
    unlocked: Option<Unlocked>,
    last_activity_ms: i64,
    /// The time floor as last saved.
    floor_saved: i64,
    /// A verified wipe command is persisted and not finished: records are refused.
    wipe_pending: bool,
}

/// The encrypted vault of one device.
pub struct Vault {
    dir: PathBuf,
    blobs: BlobStore,
    keystore: KeyStoreRef,
    clock: Arc<dyn Clock>,
    floor: Arc<TimeFloor>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What an operation on an unlocked vault gets to work with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The database (open transactions with `unchecked_transaction`).
    pub conn: &'a Connection,
    /// Keys and index.
    pub unlocked: &'a mut Unlocked,
    /// Who and where.
    pub ident: &'a Identity,
    /// Tenant policy.
    pub policy: &'a Policy,
    /// Photo files.
    pub blobs: &'a BlobStore,
    /// Now (ms).
    pub now_ms: i64,
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_put(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn meta_required(conn: &Connection, key: &str) -> Result<Vec<u8>> {
    meta_get(conn, key)?.ok_or_else(|| CoreError::corrupt("vault", format!("missing {key}")))
}

fn id16(bytes: &[u8], what: &str) -> Result<[u8; 16]> {
    bytes
        .try_into()
        .map_err(|_| CoreError::corrupt("vault", format!("bad {what}")))
}

fn tenant_key_context(tenant: &TenantId, epoch: u32) -> Vec<u8> {
    let mut c = b"ward tenant key v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c.extend_from_slice(&epoch.to_be_bytes());
    c
}

fn canary_context(vault_id: &[u8; 16]) -> Vec<u8> {
    let mut c = b"ward canary v1".to_vec();
    c.extend_from_slice(vault_id);
    c
}

fn open_db(dir: &Path) -> Result<Connection> {
    let mut conn = Connection::open(dir.join(DB_FILE))?;
    schema::prepare(&conn)?;
    schema::init(&mut conn)?;
    Ok(conn)
}

impl Vault {
    fn key_alias(vault_id: &[u8; 16]) -> String {
        format!("ward-vault-{}", ObjectId::from_bytes(*vault_id))
    }

    /// Creates a new vault in `dir` (which must not hold one) and leaves it unlocked. A
    /// provisional tenant key (epoch 1) is created locally; enrollment replaces it with the
    /// clinic's key delivered by the server.
    pub fn create(
        dir: impl AsRef<Path>,
        ident: Identity,
        keystore: KeyStoreRef,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        if dir.join(DB_FILE).exists() {
            return Err(CoreError::Invalid(
                "a vault already exists in this folder".into(),
            ));
        }
        let conn = open_db(&dir)?;
        let mut vault_id = [0u8; 16];
        ward_proto::keys::fill_random(&mut vault_id)?;
        let vault_key = SymmetricKey::generate()?;
        let wrapped = keystore.wrap_key(
            Self::key_alias(&vault_id),
            vault_key.expose_secret().to_vec(),
        )?;
        let canary = vault_key
            .seal_small(&canary_context(&vault_id), CANARY)
            .map_err(|_| CoreError::Random)?;
        let tenant_key = TenantKey::generate(1)?;
        let sealed_tk = vault_key
            .seal_small(
                &tenant_key_context(&ident.tenant, 1),
                tenant_key.key.expose_secret(),
            )
            .map_err(|_| CoreError::Random)?;
        let policy = Policy::default();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        meta_put(&conn, "vault_id", &vault_id)?;
        meta_put(&conn, "tenant_id", ident.tenant.as_bytes())?;
        meta_put(&conn, "device_id", ident.device.as_bytes())?;
        meta_put(&conn, "actor", ident.actor.as_bytes())?;
        meta_put(&conn, "wrapped_vault_key", &wrapped)?;
        meta_put(&conn, "canary", &canary)?;
        meta_put(&conn, "policy", &serde_json::to_vec(&policy)?)?;
        let now = clock.now_ms();
        meta_put(&conn, guard::TIME_FLOOR, &now.to_be_bytes())?;
        conn.execute(
            "INSERT INTO tenant_keys (epoch, wrapped) VALUES (1, ?1)",
            [&sealed_tk],
        )?;
        conn.execute_batch("COMMIT")?;
        let vault = Arc::new(Self {
            blobs: BlobStore::open(dir.join(BLOB_DIR))?,
            dir,
            keystore,
            clock,
            floor: Arc::new(TimeFloor::new(now)),
            inner: Mutex::new(Inner {
                conn: Some(conn),
                ident,
                vault_id,
                policy,
                unlocked: Some(Unlocked {
                    vault_key,
                    tenant_keys: vec![tenant_key],
                    client_keys: client_keys::ClientKeys::new(),
                    index: Index::default(),
                    keys_wanted: false,
                }),
                last_activity_ms: now,
                floor_saved: now,
                wipe_pending: false,
            }),
        });
        Ok(vault)
    }

    /// Opens an existing vault, locked. Cleans up files a crash may have left behind.
    pub fn open(
        dir: impl AsRef<Path>,
        keystore: KeyStoreRef,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.join(DB_FILE).exists() {
            return Err(CoreError::NotFound {
                what: "vault",
                id: dir.display().to_string(),
            });
        }
        let conn = open_db(&dir)?;
        let vault_id = id16(&meta_required(&conn, "vault_id")?, "vault id")?;
        let ident = Identity {
            tenant: TenantId::from_bytes(id16(&meta_required(&conn, "tenant_id")?, "tenant")?),
            device: DeviceId::from_bytes(id16(&meta_required(&conn, "device_id")?, "device")?),
            actor: String::from_utf8_lossy(&meta_required(&conn, "actor")?).into_owned(),
        };
        let policy = match meta_get(&conn, "policy")? {
            Some(p) => serde_json::from_slice(&p)?,
            None => Policy::default(),
        };
        let blobs = BlobStore::open(dir.join(BLOB_DIR))?;
        let known: std::collections::HashSet<String> = {
            let mut stmt = conn.prepare(
                "SELECT object_id, version_id, kind FROM objects WHERE file_len IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, u8>(2)?,
                ))
            })?;
            let mut set = std::collections::HashSet::new();
            for row in rows {
                let (o, v, k) = row?;
                if let (Ok(o), Ok(v), Some(kind)) = (o.try_into(), v.try_into(), Kind::from_u8(k)) {
                    set.insert(BlobStore::file_name(&ObjectRef {
                        tenant: ident.tenant,
                        object: ObjectId::from_bytes(o),
                        version: VersionId::from_bytes(v),
                        kind,
                    }));
                }
            }
            set
        };
        blobs.sweep(|name| known.contains(name))?;
        let floor_saved = guard::load_floor(&conn)?;
        let wipe_pending = meta_get(&conn, guard::WIPE_PENDING)?.is_some();
        let vault = Arc::new(Self {
            dir,
            blobs,
            keystore,
            floor: Arc::new(TimeFloor::new(floor_saved)),
            inner: Mutex::new(Inner {
                conn: Some(conn),
                ident,
                vault_id,
                policy,
                unlocked: None,
                last_activity_ms: 0,
                floor_saved,
                wipe_pending,
            }),
            clock,
        });
        vault.trusted_now_ms()?;
        Ok(vault)
    }
}

impl Vault {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the vault half-written (SQLite
        // transactions roll back), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The vault's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who the vault belongs to.
    pub fn identity(&self) -> Identity {
        self.inner().ident.clone()
    }

    /// The tenant policy in force.
    pub fn policy(&self) -> Policy {
        self.inner().policy.clone()
    }

    /// Replaces the tenant policy (pushed by the server at sync; set locally in tests/demos).
    pub fn set_policy(&self, policy: Policy) -> Result<()> {
        let mut inner = self.inner();
        let conn = inner.conn.as_ref().ok_or(CoreError::Wiped)?;
        meta_put(conn, "policy", &serde_json::to_vec(&policy)?)?;
        inner.policy = policy;
        Ok(())
    }

    /// Whether the vault is locked (including by an idle timeout that has passed).
    pub fn is_locked(&self) -> bool {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        Self::expire_idle(&mut inner, now);
        inner.unlocked.is_none()
    }

    fn expire_idle(inner: &mut Inner, now: i64) -> bool {
        let idle = i64::from(inner.policy.idle_lock_seconds) * 1000;
        if inner.unlocked.is_some() && idle > 0 && now - inner.last_activity_ms > idle {
            inner.unlocked = None;
            tracing::info!("vault locked after idle timeout");
            return true;
        }
        false
    }

    /// Locks the vault when its idle timeout has passed; returns whether it did. Apps call
    /// this from a timer and when brought to the foreground.
    pub fn lock_if_idle(&self) -> bool {
        let now = self.clock.now_ms();
        Self::expire_idle(&mut self.inner(), now)
    }

    /// Locks now: drops (and scrubs) keys and decrypted records.
    pub fn lock(&self) {
        let mut inner = self.inner();
        if inner.unlocked.take().is_some() {
            tracing::info!("vault locked");
        }
    }

    /// Unlocks: asks the platform key store for the vault key, checks the key canary, and
    /// decrypts the records. Records that fail to decrypt are kept as damaged entries; the
    /// vault still unlocks.
    pub fn unlock(&self) -> Result<()> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        if inner.conn.is_some() {
            self.note_wall_clock(&mut inner, now);
        }
        let Inner {
            conn,
            ident,
            vault_id,
            unlocked,
            last_activity_ms,
            ..
        } = &mut *inner;
        let conn = conn.as_mut().ok_or(CoreError::Wiped)?;
        if unlocked.is_some() {
            *last_activity_ms = now;
            return Ok(());
        }
        let wrapped = meta_required(conn, "wrapped_vault_key")?;
        let raw = zeroize::Zeroizing::new(
            self.keystore
                .unwrap_key(Self::key_alias(vault_id), wrapped)?,
        );
        let vault_key = SymmetricKey::from_slice(&raw).ok_or(CoreError::WrongKey)?;
        let canary = meta_required(conn, "canary")?;
        match vault_key.open_small(&canary_context(vault_id), &canary) {
            Ok(c) if c.as_slice() == CANARY => {}
            _ => return Err(CoreError::WrongKey),
        }
        let mut tenant_keys = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT epoch, wrapped FROM tenant_keys ORDER BY epoch")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            for row in rows {
                let (epoch, wrapped) = row?;
                let raw = vault_key
                    .open_small(&tenant_key_context(&ident.tenant, epoch), &wrapped)
                    .map_err(|_| {
                        CoreError::corrupt(format!("tenant key {epoch}"), "unwrap failed")
                    })?;
                let key = SymmetricKey::from_slice(&raw).ok_or_else(|| {
                    CoreError::corrupt(format!("tenant key {epoch}"), "bad length")
                })?;
                tenant_keys.push(TenantKey { epoch, key });
            }
        }
        let client_keys = client_keys::load(conn, &vault_key, &ident.tenant)?;
        let index = load_index(conn, &ident.tenant, &tenant_keys, &client_keys)?;
        audit::append(conn, ident, now, Action::Unlock, None, None, None)?;
        *unlocked = Some(Unlocked {
            vault_key,
            tenant_keys,
            client_keys,
            index,
            keys_wanted: false,
        });
        *last_activity_ms = now;
        tracing::info!("vault unlocked");
        Ok(())
    }

    /// Runs `f` on the unlocked vault, refusing when locked, idle-expired or wiped, or while
    /// a wipe is pending ([`CoreError::WipePending`]).
    pub fn with_unlocked<T>(&self, f: impl FnOnce(&mut Ctx<'_>) -> Result<T>) -> Result<T> {
        self.unlocked(false, f)
    }

    fn unlocked<T>(&self, for_wipe: bool, f: impl FnOnce(&mut Ctx<'_>) -> Result<T>) -> Result<T> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        if inner.conn.is_none() {
            return Err(CoreError::Wiped);
        }
        if inner.wipe_pending && !for_wipe {
            return Err(CoreError::WipePending);
        }
        self.note_wall_clock(&mut inner, now);
        Self::expire_idle(&mut inner, now);
        let Inner {
            conn,
            ident,
            policy,
            unlocked,
            last_activity_ms,
            ..
        } = &mut *inner;
        let conn = conn.as_ref().ok_or(CoreError::Wiped)?;
        let unlocked = unlocked.as_mut().ok_or(CoreError::Locked)?;
        *last_activity_ms = now;
        let mut ctx = Ctx {
            conn,
            unlocked,
            ident,
            policy,
            blobs: &self.blobs,
            now_ms: now,
        };
        f(&mut ctx)
    }

    /// Crypto-shreds the vault: destroys the platform key that wraps the vault key *first*,
    /// then deletes every file. After this nothing in the folder (had any survived) can be
    /// decrypted. Local unsynced data is gone: callers rescue it first when policy says so.
    pub fn wipe(&self) -> Result<()> {
        let mut inner = self.inner();
        let alias = Self::key_alias(&inner.vault_id);
        self.keystore.destroy_key(alias)?;
        inner.unlocked = None;
        inner.wipe_pending = false;
        if let Some(conn) = inner.conn.take()
            && let Err((_, e)) = conn.close()
        {
            tracing::warn!(error = %e, "closing the vault database during wipe");
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(parent) = self.dir.parent() {
            let _ = blobs::sync_dir(parent);
        }
        tracing::warn!("vault wiped");
        Ok(())
    }

    /// Now, by the vault's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Records who uses this vault (the user id the server assigned at enrollment); audit
    /// events from now on name them.
    pub fn set_actor(&self, actor: &str) -> Result<()> {
        let mut inner = self.inner();
        let conn = inner.conn.as_ref().ok_or(CoreError::Wiped)?;
        meta_put(conn, "actor", actor.as_bytes())?;
        inner.ident.actor = actor.to_string();
        Ok(())
    }

    /// Whether the vault has been wiped.
    pub fn is_wiped(&self) -> bool {
        self.inner().conn.is_none()
    }
}

impl Vault {
    /// Runs `f` on the database whether locked or not (for data that holds no clinical content,
    /// like the audit log of ids).
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let inner = self.inner();
        let conn = inner.conn.as_ref().ok_or(CoreError::Wiped)?;
        f(conn)
    }
}
