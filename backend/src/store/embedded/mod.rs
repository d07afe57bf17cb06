//! The embedded adapter: every port on one SQLite database plus a local master key, in a data
//! folder. It is the default for `ward-server` on one machine (no cloud account).
//!
//! Layout mirrors the DynamoDB single-table design: one `records` table keyed
//! `(tenant, kind, key)` holding JSON bodies (users, passkeys, invites, ceremonies, devices,
//! sessions, nonces, care teams, wrapped tenant keys), plus `objects` (the per-tenant change
//! feed, envelopes inline) and `audit` (append-only). Every statement names the tenant. The
//! local master key wraps one random KEK per tenant; deleting a tenant's KEK record
//! crypto-shreds it. Calls run on tokio's blocking pool behind one connection mutex.
//!
//! The tables, their version and their migrations are in [`schema`]. This module opens the
//! store and holds the `records` helpers every port uses; each port is implemented in its own
//! file (`tenants`, `identity`, `devices`, `objects`, `keys`, `audit`, `lifecycle`), as in the
//! AWS adapter.

mod audit;
mod client_keys;
mod devices;
mod erasure;
mod identity;
mod keys;
mod lifecycle;
mod objects;
pub mod schema;
mod tenants;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ward_proto::{SymmetricKey, TenantId};
use zeroize::Zeroizing;

use super::{StoreResult, Stores, local_blobs};
use crate::error::StoreError;

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
        Ok(bytes) => {
            crate::store::secret_file::tighten(path)?;
            SymmetricKey::from_slice(&Zeroizing::new(bytes))
                .ok_or_else(|| StoreError::Backend("master key file is damaged".into()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
            crate::store::secret_file::write(path, key.expose_secret())?;
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
        let mut conn = Connection::open(dir.join("ward.db"))?;
        schema::prepare(&conn)?;
        schema::init(&mut conn)?;
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

impl Stores {
    /// The embedded default: SQLite + local master key + files in `dir`, blob URLs signed
    /// locally and served under `public_url`.
    pub fn embedded(
        dir: &std::path::Path,
        public_url: &str,
    ) -> StoreResult<(Self, Arc<local_blobs::LocalBlobs>)> {
        let db = Embedded::open(dir)?;
        let blobs = local_blobs::LocalBlobs::open(&dir.join("blobs"), public_url)?;
        Ok((Self::from_adapter(db, blobs.clone()), blobs))
    }
}
