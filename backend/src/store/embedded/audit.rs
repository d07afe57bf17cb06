//! `AuditStore` on the embedded adapter. `audit` keeps each entry's JSON body under a per-tenant
//! sequence number; `audit_ix` holds the columns the filters use (time, actor, device, action,
//! client), written in the same transaction, so a filtered query is one indexed SQL statement;
//! `audit_chain` holds each device's accepted chain links, keyed (tenant, device, seq) so an
//! event is stored once. Triggers make all three append-only (the tables are in
//! [`super::schema`]). Entries written before `audit_ix` existed are indexed by the schema step
//! that adopts such a database.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use ward_proto::{DeviceId, TenantId};

use super::{Embedded, json, parse, t};
use crate::model::{AuditEntry, AuditRecord, ChainLink};
use crate::store::{AuditPage, AuditQuery, AuditStore, ChainEntry, StoreResult};

/// Indexes the entries that have no `audit_ix` row: those written before the index existed
/// (a schema step, [`super::schema`]).
pub(super) fn index_unindexed(conn: &Connection) -> StoreResult<()> {
    let missing: Vec<(String, i64, Vec<u8>)> = {
        let mut s = conn.prepare(
            "SELECT a.tenant, a.seq, a.body FROM audit a WHERE NOT EXISTS
             (SELECT 1 FROM audit_ix i WHERE i.tenant = a.tenant AND i.seq = a.seq)",
        )?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (tenant, seq, body) in missing {
        index(conn, &tenant, seq, &parse(&body)?)?;
    }
    Ok(())
}

fn index(c: &Connection, tenant: &str, seq: i64, e: &AuditEntry) -> StoreResult<()> {
    let r = &e.record;
    c.execute(
        "INSERT INTO audit_ix (tenant, seq, at_ms, actor, device, action, client)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            tenant,
            seq,
            r.at_ms,
            r.actor,
            r.device_id.map(|d| d.to_string()),
            r.action,
            e.client.map(|c| c.to_string()),
        ],
    )?;
    Ok(())
}

/// Appends entries with consecutive sequence numbers (inside the caller's transaction).
fn insert(c: &Connection, tenant: &str, entries: &[AuditEntry]) -> StoreResult<()> {
    let mut seq: i64 = c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM audit WHERE tenant = ?1",
        [tenant],
        |r| r.get(0),
    )?;
    for e in entries {
        seq += 1;
        c.execute(
            "INSERT INTO audit (tenant, seq, body) VALUES (?1, ?2, ?3)",
            params![tenant, seq, json(e)?],
        )?;
        index(c, tenant, seq, e)?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for Embedded {
    async fn append(&self, tenant: TenantId, record: &AuditRecord) -> StoreResult<()> {
        self.append_entries(tenant, &[AuditEntry::from(record.clone())])
            .await
    }

    async fn recent(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let id = t(tenant);
        let bodies: Vec<Vec<u8>> = self
            .run(move |c| {
                let mut s = c.prepare(
                    "SELECT body FROM audit WHERE tenant = ?1 ORDER BY seq DESC LIMIT ?2",
                )?;
                let rows = s.query_map(params![id, limit], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn append_entries(&self, tenant: TenantId, entries: &[AuditEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (id, entries) = (t(tenant), entries.to_vec());
        self.run(move |c| {
            let tx = c.transaction()?;
            insert(&tx, &id, &entries)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn query(&self, tenant: TenantId, q: &AuditQuery) -> StoreResult<AuditPage> {
        let (id, q) = (t(tenant), q.clone());
        if q.limit == 0 {
            return Ok(AuditPage::default());
        }
        let after: Option<i64> = match &q.after {
            None => None,
            // Cursors are this adapter's sequence numbers; anything else names no position.
            Some(a) => match a.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => return Ok(AuditPage::default()),
            },
        };
        let rows: Vec<(i64, Vec<u8>)> = self
            .run(move |c| {
                let mut sql = String::from(
                    "SELECT a.seq, a.body FROM audit_ix i
                     JOIN audit a ON a.tenant = i.tenant AND a.seq = i.seq
                     WHERE i.tenant = ?",
                );
                let mut args: Vec<rusqlite::types::Value> = vec![id.into()];
                let mut cond = |clause: &str, v: rusqlite::types::Value| {
                    sql.push_str(clause);
                    args.push(v);
                };
                if let Some(d) = q.device {
                    cond(" AND i.device = ?", d.to_string().into());
                }
                if let Some(a) = &q.actor {
                    cond(" AND i.actor = ?", a.clone().into());
                }
                if let Some(a) = &q.action {
                    cond(" AND i.action = ?", a.clone().into());
                }
                if let Some(cl) = q.client {
                    cond(" AND i.client = ?", cl.to_string().into());
                }
                if let Some(s) = q.since_ms {
                    cond(" AND i.at_ms >= ?", s.into());
                }
                if let Some(u) = q.until_ms {
                    cond(" AND i.at_ms < ?", u.into());
                }
                if let Some(a) = after {
                    let clause = if q.oldest_first {
                        " AND i.seq > ?"
                    } else {
                        " AND i.seq < ?"
                    };
                    cond(clause, a.into());
                }
                sql.push_str(if q.oldest_first {
                    " ORDER BY i.seq ASC LIMIT ?"
                } else {
                    " ORDER BY i.seq DESC LIMIT ?"
                });
                args.push(i64::from(q.limit).saturating_add(1).into());
                let mut s = c.prepare(&sql)?;
                let rows = s.query_map(rusqlite::params_from_iter(args), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        let more = rows.len() > q.limit as usize;
        let mut entries = Vec::with_capacity(rows.len().min(q.limit as usize));
        for (seq, body) in rows.into_iter().take(q.limit as usize) {
            entries.push((seq.to_string(), parse::<AuditEntry>(&body)?));
        }
        let next = if more {
            entries.last().map(|(c, _)| c.clone())
        } else {
            None
        };
        Ok(AuditPage { entries, next })
    }

    async fn chain_head(
        &self,
        tenant: TenantId,
        device: DeviceId,
    ) -> StoreResult<Option<ChainLink>> {
        let (id, dev) = (t(tenant), device.to_string());
        let body: Option<Vec<u8>> = self
            .run(move |c| {
                Ok(c.query_row(
                    "SELECT body FROM audit_chain WHERE tenant = ?1 AND device = ?2
                     ORDER BY seq DESC LIMIT 1",
                    params![id, dev],
                    |r| r.get(0),
                )
                .optional()?)
            })
            .await?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn chain_links(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from_seq: u64,
        to_seq: u64,
    ) -> StoreResult<Vec<ChainLink>> {
        let (id, dev) = (t(tenant), device.to_string());
        let (from, to) = (
            i64::try_from(from_seq).unwrap_or(i64::MAX),
            i64::try_from(to_seq).unwrap_or(i64::MAX),
        );
        let bodies: Vec<Vec<u8>> = self
            .run(move |c| {
                let mut s = c.prepare(
                    "SELECT body FROM audit_chain WHERE tenant = ?1 AND device = ?2
                     AND seq >= ?3 AND seq <= ?4 ORDER BY seq",
                )?;
                let rows = s.query_map(params![id, dev, from, to], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn append_chain(
        &self,
        tenant: TenantId,
        device: DeviceId,
        entries: &[ChainEntry],
    ) -> StoreResult<usize> {
        let (id, dev, entries) = (t(tenant), device.to_string(), entries.to_vec());
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut stored = 0;
            for e in &entries {
                let seq = i64::try_from(e.link.seq).unwrap_or(i64::MAX);
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM audit_chain WHERE tenant = ?1 AND device = ?2 AND seq = ?3",
                        params![id, dev, seq],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if exists {
                    break;
                }
                tx.execute(
                    "INSERT INTO audit_chain (tenant, device, seq, body) VALUES (?1, ?2, ?3, ?4)",
                    params![id, dev, seq, json(&e.link)?],
                )?;
                insert(&tx, &id, &e.entries)?;
                stored += 1;
            }
            tx.commit()?;
            Ok(stored)
        })
        .await
    }
}
