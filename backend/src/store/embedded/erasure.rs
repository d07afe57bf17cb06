//! `ErasureStore` on the embedded adapter: ledger entries are `erasure` records keyed by client
//! id; a purge deletes the client's rows in one transaction with SQLite's `secure_delete` on
//! (deleted cells are zeroed in their pages), then rebuilds the file (`VACUUM`: stale copies an
//! earlier page split left in free space go too) and checkpoints and truncates the WAL, so
//! neither the database file's free pages nor an old WAL frame keeps a copy.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use serde::Deserialize;
use ward_proto::erasure::Erasure;
use ward_proto::{ObjectId, TenantId};

use super::{Embedded, json, parse, rec_list, rec_put, t};
use crate::error::StoreError;
use crate::store::StoreResult;
use crate::store::erasure::{ErasureStore, Purged, VersionRef};

const KIND: &str = "erasure";

/// The one field of a record body the purge matches on.
#[derive(Deserialize)]
struct ClientOf {
    #[serde(default)]
    client_id: Option<ObjectId>,
    #[serde(default)]
    created_at_ms: i64,
}

/// Keys of `kind` records whose JSON body names `client`.
fn keys_naming(
    c: &Connection,
    tenant: &str,
    kind: &str,
    client: ObjectId,
) -> StoreResult<Vec<String>> {
    let mut s = c.prepare("SELECT key, body FROM records WHERE tenant = ?1 AND kind = ?2")?;
    let rows = s.query_map(params![tenant, kind], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, body) = row?;
        let of: ClientOf = parse(&body)?;
        if of.client_id == Some(client) {
            out.push(key);
        }
    }
    Ok(out)
}

fn delete_keys(c: &Connection, tenant: &str, kind: &str, keys: &[String]) -> StoreResult<u64> {
    let mut n = 0;
    for k in keys {
        n += c.execute(
            "DELETE FROM records WHERE tenant = ?1 AND kind = ?2 AND key = ?3",
            params![tenant, kind, k],
        )? as u64;
    }
    Ok(n)
}

fn purge(
    c: &mut Connection,
    tenant: &str,
    client: ObjectId,
    versions: &[VersionRef],
) -> StoreResult<Purged> {
    let tx = c.transaction()?;
    let prefix = format!("{client}/");
    let keys = tx.execute(
        "DELETE FROM records WHERE tenant = ?1 AND kind = 'client_key' AND substr(key, 1, length(?2)) = ?2",
        params![tenant, prefix],
    )? as u64;
    tx.execute(
        "DELETE FROM records WHERE tenant = ?1 AND kind = 'care_team' AND substr(key, 1, length(?2)) = ?2",
        params![tenant, format!("{client}#")],
    )?;
    for kind in ["break_glass", "quarantine"] {
        let ks = keys_naming(&tx, tenant, kind, client)?;
        delete_keys(&tx, tenant, kind, &ks)?;
    }
    let mut gone = 0;
    for v in versions {
        tx.execute(
            "DELETE FROM records WHERE tenant = ?1 AND kind = 'upload' AND key = ?2",
            params![tenant, format!("{}#{}", v.object, v.version)],
        )?;
        gone += tx.execute(
            "DELETE FROM objects WHERE tenant = ?1 AND seq = ?2 AND object_id = ?3",
            params![tenant, v.seq as i64, v.object.to_string()],
        )? as u64;
    }
    tx.commit()?;
    Ok(Purged {
        versions: gone,
        keys,
    })
}

#[async_trait]
impl ErasureStore for Embedded {
    async fn put_erasure(&self, tenant: TenantId, erasure: &Erasure) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), erasure.client_id.to_string(), json(erasure)?);
        self.run(move |c| rec_put(c, &id, KIND, &k, &body, None))
            .await
    }

    async fn erasures(&self, tenant: TenantId) -> StoreResult<Vec<Erasure>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, KIND, "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn client_versions(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<VersionRef>> {
        let id = t(tenant);
        self.run(move |c| {
            let mut s = c.prepare(
                "SELECT seq, object_id, version_id, meta, envelope IS NULL FROM objects
                 WHERE tenant = ?1 ORDER BY seq",
            )?;
            let rows = s.query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?;
            let bad = |e: uuid::Error| StoreError::Backend(e.to_string());
            let mut out = Vec::new();
            for row in rows {
                let (seq, o, v, meta, blob) = row?;
                let object: ObjectId = o.parse().map_err(bad)?;
                let of: ClientOf = parse(&meta)?;
                if object == client || of.client_id == Some(client) {
                    out.push(VersionRef {
                        object,
                        version: v.parse().map_err(bad)?,
                        seq: seq as u64,
                        blob,
                        created_at_ms: of.created_at_ms,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn purge_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
        versions: &[VersionRef],
    ) -> StoreResult<Purged> {
        let (id, versions) = (t(tenant), versions.to_vec());
        self.run(move |c| {
            c.pragma_update(None, "secure_delete", "ON")?;
            let out = purge(c, &id, client, &versions);
            // Earlier page splits and updates (with secure_delete off) may have left stale
            // copies of the client's cells in free pages or free space inside pages: VACUUM
            // rebuilds the file from the live rows only. Then leave no frame of the deleted
            // rows in the WAL, and restore the connection's default.
            let vacuum = c.execute_batch("VACUUM");
            let checkpoint = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            c.pragma_update(None, "secure_delete", "OFF")?;
            let out = out?;
            vacuum?;
            checkpoint?;
            Ok(out)
        })
        .await
    }
}
