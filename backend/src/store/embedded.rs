//! The embedded adapter: every port on one SQLite database plus a local master key, in a data
//! folder. It is the default for `ward-server` on one machine (no cloud account).
//!
//! Layout mirrors the DynamoDB single-table design: one `records` table keyed
//! `(tenant, kind, key)` holding JSON bodies (users, passkeys, invites, ceremonies, devices,
//! sessions, nonces, care teams, wrapped tenant keys), plus `objects` (the per-tenant change
//! feed, envelopes inline) and `audit` (append-only). Every statement names the tenant. The
//! local master key wraps one random KEK per tenant; deleting a tenant's KEK record
//! crypto-shreds it. Calls run on tokio's blocking pool behind one connection mutex.

mod audit;
mod lifecycle;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ward_proto::{DeviceId, ObjectId, SymmetricKey, TenantId, VersionId};
use zeroize::Zeroizing;

use super::{
    DeviceStore, IdentityStore, KeyVault, ObjectStore, PutOutcome, StoreResult, TenantStore,
};
use crate::error::StoreError;
use crate::model::{
    Ceremony, Credential, Device, DeviceStatus, Invite, Session, StoredObject, Tenant, UploadState,
    User, WrappedTenantKey,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    body   BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS records (
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       BLOB NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (tenant, kind, key)
) STRICT;
CREATE TABLE IF NOT EXISTS objects (
    tenant     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    object_id  TEXT NOT NULL,
    version_id TEXT NOT NULL,
    meta       BLOB NOT NULL,
    envelope   BLOB,
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, object_id, version_id)
) STRICT;
CREATE TABLE IF NOT EXISTS audit (
    tenant TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
";

/// The embedded adapter.
pub struct Embedded {
    conn: Arc<Mutex<Connection>>,
    master: SymmetricKey,
    dir: PathBuf,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn load_or_create_master(path: &Path) -> StoreResult<SymmetricKey> {
    match std::fs::read(path) {
        Ok(bytes) => SymmetricKey::from_slice(&Zeroizing::new(bytes))
            .ok_or_else(|| StoreError::Backend("master key file is damaged".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            let key = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts
                .open(path)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            f.write_all(key.expose_secret())
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            f.sync_all()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            Ok(key)
        }
        Err(e) => Err(StoreError::Backend(e.to_string())),
    }
}

impl Embedded {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> StoreResult<Arc<Self>> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Backend(e.to_string()))?;
        let master = load_or_create_master(&dir.join("master.key"))?;
        let conn = Connection::open(dir.join("ward.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        audit::init(&conn)?;
        Ok(Arc::new(Self {
            conn: Arc::new(Mutex::new(conn)),
            master,
            dir,
        }))
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

fn t(tenant: TenantId) -> String {
    tenant.to_string()
}

fn json<T: Serialize>(v: &T) -> StoreResult<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

fn parse<T: DeserializeOwned>(b: &[u8]) -> StoreResult<T> {
    Ok(serde_json::from_slice(b)?)
}

fn rec_put(
    c: &Connection,
    tenant: &str,
    kind: &str,
    key: &str,
    body: &[u8],
    exp: Option<i64>,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO records (tenant, kind, key, body, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, kind, key) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
        params![tenant, kind, key, body, exp],
    )?;
    Ok(())
}

fn rec_insert_new(
    c: &Connection,
    tenant: &str,
    kind: &str,
    key: &str,
    body: &[u8],
) -> StoreResult<()> {
    let n = c.execute(
        "INSERT INTO records (tenant, kind, key, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![tenant, kind, key, body],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("{kind} {key} exists")));
    }
    Ok(())
}

fn rec_get(c: &Connection, tenant: &str, kind: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(c.query_row(
        "SELECT body FROM records WHERE tenant = ?1 AND kind = ?2 AND key = ?3",
        params![tenant, kind, key],
        |r| r.get(0),
    )
    .optional()?)
}

fn rec_list(c: &Connection, tenant: &str, kind: &str, prefix: &str) -> StoreResult<Vec<Vec<u8>>> {
    let mut stmt = c.prepare(
        "SELECT body FROM records WHERE tenant = ?1 AND kind = ?2 AND substr(key, 1, length(?3)) = ?3
         ORDER BY key",
    )?;
    let rows = stmt.query_map(params![tenant, kind, prefix], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<Vec<u8>>, _>>()?)
}

/// Deletes and returns a record if it has not expired: the atomic "consume once".
fn rec_take(
    c: &Connection,
    tenant: &str,
    kind: &str,
    key: &str,
    now: i64,
) -> StoreResult<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, Option<i64>)> = c
        .query_row(
            "DELETE FROM records WHERE tenant = ?1 AND kind = ?2 AND key = ?3 RETURNING body, expires_at",
            params![tenant, kind, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(body, exp)| (exp.is_none_or(|e| e > now)).then_some(body)))
}

#[async_trait]
impl TenantStore for Embedded {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let (id, body) = (t(tenant.id), json(tenant)?);
        self.run(move |c| {
            let n = c.execute(
                "INSERT INTO tenants (tenant, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![id, body],
            )?;
            if n == 0 {
                Err(StoreError::Conflict("tenant exists".into()))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        let id = t(tenant);
        let body: Option<Vec<u8>> = self
            .run(move |c| {
                Ok(
                    c.query_row("SELECT body FROM tenants WHERE tenant = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let bodies: Vec<Vec<u8>> = self
            .run(|c| {
                let mut s = c.prepare("SELECT body FROM tenants ORDER BY tenant")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_tenant_key(&self, tenant: TenantId, key: &WrappedTenantKey) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), format!("{:010}", key.epoch), json(key)?);
        self.run(move |c| rec_insert_new(c, &id, "tenant_key", &k, &body))
            .await
    }

    async fn tenant_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedTenantKey>> {
        let id = t(tenant);
        let bodies = self
            .run(move |c| rec_list(c, &id, "tenant_key", ""))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn set_current_epoch(
        &self,
        tenant: TenantId,
        expected: u32,
        new: u32,
    ) -> StoreResult<()> {
        let id = t(tenant);
        self.run(move |c| {
            let tx = c.transaction()?;
            let body: Vec<u8> = tx
                .query_row("SELECT body FROM tenants WHERE tenant = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| StoreError::Conflict("no such tenant".into()))?;
            let mut tenant: Tenant = parse(&body)?;
            if tenant.current_epoch != expected {
                return Err(StoreError::Conflict("epoch changed concurrently".into()));
            }
            tenant.current_epoch = new;
            tx.execute(
                "UPDATE tenants SET body = ?2 WHERE tenant = ?1",
                params![id, json(&tenant)?],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl IdentityStore for Embedded {
    async fn put_user(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), user.user_id.to_string(), json(user)?);
        self.run(move |c| rec_put(c, &id, "user", &k, &body, None))
            .await
    }

    async fn get_user(&self, tenant: TenantId, user_id: uuid::Uuid) -> StoreResult<Option<User>> {
        let (id, k) = (t(tenant), user_id.to_string());
        self.run(move |c| rec_get(c, &id, "user", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, "user", "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_credential(&self, tenant: TenantId, cred: &Credential) -> StoreResult<()> {
        let (id, k, body) = (
            t(tenant),
            format!("{}#{}", cred.user_id, cred.credential_id),
            json(cred)?,
        );
        self.run(move |c| rec_put(c, &id, "credential", &k, &body, None))
            .await
    }

    async fn credentials(
        &self,
        tenant: TenantId,
        user_id: uuid::Uuid,
    ) -> StoreResult<Vec<Credential>> {
        let (id, prefix) = (t(tenant), format!("{user_id}#"));
        let bodies = self
            .run(move |c| rec_list(c, &id, "credential", &prefix))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_invite(&self, tenant: TenantId, invite: &Invite) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            invite.code_hash.clone(),
            json(invite)?,
            invite.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "invite", &k, &body, Some(exp)))
            .await
    }

    async fn take_invite(
        &self,
        tenant: TenantId,
        code_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Invite>> {
        let (id, k) = (t(tenant), code_hash.to_string());
        self.run(move |c| rec_take(c, &id, "invite", &k, now_ms))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn put_ceremony(&self, tenant: TenantId, ceremony: &Ceremony) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            ceremony.id.clone(),
            json(ceremony)?,
            ceremony.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "ceremony", &k, &body, Some(exp)))
            .await
    }

    async fn take_ceremony(
        &self,
        tenant: TenantId,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Ceremony>> {
        let (tid, k) = (t(tenant), id.to_string());
        self.run(move |c| rec_take(c, &tid, "ceremony", &k, now_ms))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn add_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), format!("{client}#{user}"));
        self.run(move |c| rec_put(c, &id, "care_team", &k, b"{}", None))
            .await
    }

    async fn on_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{client}#{user}"));
        Ok(self
            .run(move |c| rec_get(c, &id, "care_team", &k))
            .await?
            .is_some())
    }

    async fn list_care_teams(&self, tenant: TenantId) -> StoreResult<Vec<(ObjectId, uuid::Uuid)>> {
        let id = t(tenant);
        let keys: Vec<String> = self
            .run(move |c| {
                let mut s = c.prepare(
                    "SELECT key FROM records WHERE tenant = ?1 AND kind = 'care_team' ORDER BY key",
                )?;
                let rows = s.query_map([id], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        keys.iter()
            .map(|k| {
                let bad = || StoreError::Backend(format!("bad care team key {k:?}"));
                let (client, user) = k.split_once('#').ok_or_else(bad)?;
                Ok((
                    client.parse().map_err(|_| bad())?,
                    user.parse().map_err(|_| bad())?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl DeviceStore for Embedded {
    async fn create_device(&self, tenant: TenantId, device: &Device) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), device.device_id.to_string(), json(device)?);
        self.run(move |c| rec_insert_new(c, &id, "device", &k, &body))
            .await
    }

    async fn get_device(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Option<Device>> {
        let (id, k) = (t(tenant), device.to_string());
        self.run(move |c| rec_get(c, &id, "device", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn list_devices(&self, tenant: TenantId) -> StoreResult<Vec<Device>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, "device", "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn set_device_status(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from: &[DeviceStatus],
        to: DeviceStatus,
    ) -> StoreResult<bool> {
        let (id, k, from) = (t(tenant), device.to_string(), from.to_vec());
        self.run(move |c| {
            let tx = c.transaction()?;
            let Some(body) = rec_get(&tx, &id, "device", &k)? else {
                return Ok(false);
            };
            let mut d: Device = parse(&body)?;
            if !from.contains(&d.status) {
                return Ok(false);
            }
            d.status = to;
            rec_put(&tx, &id, "device", &k, &json(&d)?, None)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn touch_device(
        &self,
        tenant: TenantId,
        device: DeviceId,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), device.to_string());
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(body) = rec_get(&tx, &id, "device", &k)? {
                let mut d: Device = parse(&body)?;
                d.last_seen_ms = d.last_seen_ms.max(now_ms);
                rec_put(&tx, &id, "device", &k, &json(&d)?, None)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn put_session(&self, tenant: TenantId, session: &Session) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            format!("{}#{}", session.device_id, session.session_id),
            json(session)?,
            session.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "session", &k, &body, Some(exp)))
            .await
    }

    async fn get_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<Option<Session>> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| rec_get(c, &id, "session", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn revoke_device_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<u32> {
        let (id, prefix) = (t(tenant), format!("{device}#"));
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut n = 0;
            for body in rec_list(&tx, &id, "session", &prefix)? {
                let mut s: Session = parse(&body)?;
                if !s.revoked {
                    s.revoked = true;
                    let k = format!("{}#{}", s.device_id, s.session_id);
                    rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
                    n += 1;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    async fn mark_authenticated(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        at_ms: i64,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(body) = rec_get(&tx, &id, "session", &k)? {
                let mut s: Session = parse(&body)?;
                s.authenticated_at_ms = at_ms;
                rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn use_nonce(
        &self,
        tenant: TenantId,
        device: DeviceId,
        nonce: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{device}#{nonce}"));
        self.run(move |c| {
            // Expired nonces may be reused only after their window; clear them lazily.
            c.execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind = 'nonce' AND key = ?2 AND expires_at <= ?3",
                params![id, k, now_ms],
            )?;
            let n = c.execute(
                "INSERT INTO records (tenant, kind, key, body, expires_at) VALUES (?1, 'nonce', ?2, x'', ?3)
                 ON CONFLICT DO NOTHING",
                params![id, k, expires_at_ms],
            )?;
            Ok(n == 1)
        })
        .await
    }
}

#[derive(Serialize, serde::Deserialize)]
struct ObjectMeta {
    kind: u8,
    client_id: Option<ObjectId>,
    parent_version: Option<VersionId>,
    sha256: String,
    size: u64,
    device_id: DeviceId,
    created_at_ms: i64,
}

fn row_to_object(
    seq: i64,
    object_id: &str,
    version_id: &str,
    meta: &[u8],
    envelope: Option<Vec<u8>>,
) -> StoreResult<StoredObject> {
    let m: ObjectMeta = parse(meta)?;
    let bad = |e: uuid::Error| StoreError::Backend(e.to_string());
    Ok(StoredObject {
        object_id: object_id.parse().map_err(bad)?,
        version_id: version_id.parse().map_err(bad)?,
        kind: m.kind,
        client_id: m.client_id,
        parent_version: m.parent_version,
        seq: seq as u64,
        sha256: m.sha256,
        size: m.size,
        envelope,
        device_id: m.device_id,
        created_at_ms: m.created_at_ms,
    })
}

#[async_trait]
impl ObjectStore for Embedded {
    async fn put_object(&self, tenant: TenantId, o: &StoredObject) -> StoreResult<PutOutcome> {
        let mut out = self.put_objects(tenant, std::slice::from_ref(o)).await?;
        out.pop()
            .ok_or_else(|| StoreError::Backend("no outcome for a stored object".into()))
    }

    async fn put_objects(
        &self,
        tenant: TenantId,
        objects: &[StoredObject],
    ) -> StoreResult<Vec<PutOutcome>> {
        let id = t(tenant);
        let mut rows = Vec::with_capacity(objects.len());
        for o in objects {
            let meta = json(&ObjectMeta {
                kind: o.kind,
                client_id: o.client_id,
                parent_version: o.parent_version,
                sha256: o.sha256.clone(),
                size: o.size,
                device_id: o.device_id,
                created_at_ms: o.created_at_ms,
            })?;
            rows.push((
                o.object_id.to_string(),
                o.version_id.to_string(),
                o.sha256.clone(),
                meta,
                o.envelope.clone(),
            ));
        }
        self.run(move |c| {
            // One transaction (one commit) for the whole batch.
            let tx = c.transaction()?;
            let mut next: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM objects WHERE tenant = ?1",
                [&id],
                |r| r.get(0),
            )?;
            let mut out = Vec::with_capacity(rows.len());
            {
                let mut find = tx.prepare(
                    "SELECT seq, meta FROM objects WHERE tenant = ?1 AND object_id = ?2 AND version_id = ?3",
                )?;
                let mut insert = tx.prepare(
                    "INSERT INTO objects (tenant, seq, object_id, version_id, meta, envelope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for (oid, vid, sha, meta, envelope) in &rows {
                    let existing: Option<(i64, Vec<u8>)> = find
                        .query_row(params![id, oid, vid], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((seq, m)) = existing {
                        let m: ObjectMeta = parse(&m)?;
                        out.push(if &m.sha256 == sha {
                            PutOutcome::Duplicate { seq: seq as u64 }
                        } else {
                            PutOutcome::Conflict
                        });
                        continue;
                    }
                    insert.execute(params![id, next, oid, vid, meta, envelope])?;
                    out.push(PutOutcome::Created { seq: next as u64 });
                    next += 1;
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let id = t(tenant);
        self.run(move |c| {
            let mut s = c.prepare(
                "SELECT seq, object_id, version_id, meta, envelope FROM objects
                 WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = s.query_map(params![id, after_seq as i64, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, o, v, m, e) = row?;
                out.push(row_to_object(seq, &o, &v, &m, e)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_upload(&self, tenant: TenantId, upload: &UploadState) -> StoreResult<()> {
        let (id, k, body) = (
            t(tenant),
            format!("{}#{}", upload.object_id, upload.version_id),
            json(upload)?,
        );
        self.run(move |c| rec_put(c, &id, "upload", &k, &body, None))
            .await
    }

    async fn get_upload(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<UploadState>> {
        let (id, k) = (t(tenant), format!("{object}#{version}"));
        self.run(move |c| rec_get(c, &id, "upload", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn has_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<bool> {
        let (id, o) = (t(tenant), object.to_string());
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT 1 FROM objects WHERE tenant = ?1 AND object_id = ?2 LIMIT 1",
                params![id, o],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
        .await
    }

    async fn get_object(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<StoredObject>> {
        let (id, o, v) = (t(tenant), object.to_string(), version.to_string());
        self.run(move |c| {
            let row: Option<(i64, Vec<u8>, Option<Vec<u8>>)> = c
                .query_row(
                    "SELECT seq, meta, envelope FROM objects WHERE tenant = ?1 AND object_id = ?2 AND version_id = ?3",
                    params![id, o, v],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(seq, m, e)| row_to_object(seq, &o, &v, &m, e)).transpose()
        })
        .await
    }
}

fn kek_context(tenant: TenantId) -> Vec<u8> {
    let mut c = b"ward tenant kek v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c
}

fn tenant_key_context(tenant: TenantId) -> Vec<u8> {
    // The embedded analogue of KMS encryption context {"tenant": id}.
    let mut c = b"ward tenant key v1 tenant=".to_vec();
    c.extend_from_slice(tenant.to_string().as_bytes());
    c
}

impl Embedded {
    async fn tenant_kek(&self, tenant: TenantId) -> StoreResult<SymmetricKey> {
        let id = t(tenant);
        let sealed = self
            .run(move |c| rec_get(c, &id, "kek", "current"))
            .await?
            .ok_or_else(|| {
                StoreError::Backend("tenant key-encryption key is gone (shredded?)".into())
            })?;
        let raw = self
            .master
            .open_small(&kek_context(tenant), &sealed)
            .map_err(|_| StoreError::Backend("tenant KEK failed to unwrap".into()))?;
        SymmetricKey::from_slice(&raw).ok_or_else(|| StoreError::Backend("bad KEK".into()))
    }

    /// Crypto-shreds a tenant: deletes its KEK, after which no wrapped tenant key (and so no
    /// envelope of that tenant, anywhere) can be opened.
    pub async fn shred_tenant(&self, tenant: TenantId) -> StoreResult<()> {
        let id = t(tenant);
        self.run(move |c| {
            c.execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind = 'kek'",
                [id],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl KeyVault for Embedded {
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String> {
        let kek = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
        let sealed = self
            .master
            .seal_small(&kek_context(tenant), kek.expose_secret())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let id = t(tenant);
        self.run(move |c| rec_insert_new(c, &id, "kek", "current", &sealed))
            .await?;
        Ok(format!("local:{tenant}"))
    }

    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        let kek = self.tenant_kek(tenant).await?;
        let key = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
        let wrapped = kek
            .seal_small(&tenant_key_context(tenant), key.expose_secret())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok((Zeroizing::new(key.expose_secret().to_vec()), wrapped))
    }

    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let kek = self.tenant_kek(tenant).await?;
        kek.open_small(&tenant_key_context(tenant), wrapped)
            .map_err(|_| StoreError::Backend("tenant key failed to unwrap".into()))
    }

    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let kek = self.tenant_kek(tenant).await?;
        kek.seal_small(&tenant_key_context(tenant), plaintext)
            .map_err(|e| StoreError::Backend(e.to_string()))
    }
}
