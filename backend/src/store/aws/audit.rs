//! `AuditStore` on DynamoDB: entries at `T#<t>#AUDIT`/`<time>#<random>`, JSON bodies, each
//! written with `attribute_not_exists` and never updated or deleted by any code path (the
//! adapter has none; the IAM policy should deny it too). The sort key is a hybrid clock: the
//! server's wall time in microseconds, bumped so it strictly increases within a process, plus
//! 64 random bits so that two processes never collide. Order across concurrent Lambda instances
//! is wall-clock order (within clock skew): a per-tenant counter would be exact but would add a
//! hot item to every request.
//!
//! An entry naming a device is also written, with the same sort key and in the same
//! transaction, to that device's partition `T#<t>#AUDITDEV#<device>`, so a device's history
//! (the breach-scope report, a device filter) is one partition read rather than a scan of the
//! whole tenant log. A device's accepted chain links live at `T#<t>#ACHAIN#<device>`/`<seq>`
//! (`attribute_not_exists`: an event is accepted once), each in the same transaction as its
//! entries. Batches are split into transactions of at most [`MAX_TX_WRITES`] writes. Other
//! filters are applied while reading, at most `MAX_AUDIT_SCAN` items per call.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use ring::rand::{SecureRandom, SystemRandom};
use ward_proto::{DeviceId, TenantId};

use super::Aws;
use super::table::{
    Cond, Item, Kind, Partition, Range, SK, Table, TxOutcome, TxWrite, body, get_s, pad, set_body,
};
use crate::error::StoreError;
use crate::model::{AuditEntry, AuditRecord, ChainLink};
use crate::store::{AuditPage, AuditQuery, AuditStore, ChainEntry, MAX_AUDIT_SCAN, StoreResult};

/// Most writes in one TransactWriteItems (DynamoDB's limit).
pub const MAX_TX_WRITES: usize = 100;
/// Items read per query round.
const READ_BATCH: u32 = 500;
/// Attempts at a transaction that lost to a key collision or a concurrent transaction.
const ATTEMPTS: u32 = 4;

static LAST_US: AtomicU64 = AtomicU64::new(0);

/// A strictly increasing (per process) microsecond timestamp, never behind the wall clock.
fn hybrid_now_us() -> u64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let prev = LAST_US
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(wall.max(last + 1))
        })
        .unwrap_or(0);
    wall.max(prev + 1)
}

fn audit_sk() -> StoreResult<String> {
    let mut r = [0u8; 8];
    SystemRandom::new()
        .fill(&mut r)
        .map_err(|_| StoreError::Backend("rng failed".into()))?;
    Ok(format!("{:020}#{}", hybrid_now_us(), hex::encode(r)))
}

fn chain_partition(tenant: TenantId, device: DeviceId) -> Partition {
    Partition::sharded(tenant, Kind::AuditChain, device)
}

/// The writes of one entry (its log item, and its device-partition copy), with fresh keys.
fn entry_writes(tenant: TenantId, e: &AuditEntry) -> StoreResult<Vec<TxWrite>> {
    let sk = audit_sk()?;
    let mut item = Table::item(&Partition::new(tenant, Kind::Audit), sk.clone());
    set_body(&mut item, e)?;
    let mut out = vec![TxWrite::Put(item, Cond::New)];
    if let Some(d) = e.record.device_id {
        let mut copy = Table::item(&Partition::sharded(tenant, Kind::AuditByDevice, d), sk);
        set_body(&mut copy, e)?;
        out.push(TxWrite::Put(copy, Cond::New));
    }
    Ok(out)
}

/// Number of writes [`entry_writes`] makes for `e`.
fn entry_write_count(e: &AuditEntry) -> usize {
    1 + usize::from(e.record.device_id.is_some())
}

/// Splits groups (each stored atomically) into runs of at most [`MAX_TX_WRITES`] writes.
fn chunks<T>(groups: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut writes) = (0, 0);
    for (i, g) in groups.iter().enumerate() {
        let n = size(g);
        if writes + n > MAX_TX_WRITES && i > start {
            out.push(&groups[start..i]);
            start = i;
            writes = 0;
        }
        writes += n;
    }
    if start < groups.len() {
        out.push(&groups[start..]);
    }
    out
}

impl Aws {
    async fn audit_query_partition(&self, p: &Partition, q: &AuditQuery) -> StoreResult<AuditPage> {
        let forward = q.oldest_first;
        let mut entries = Vec::new();
        let mut cursor = q.after.clone();
        let mut scanned = 0usize;
        loop {
            let want = READ_BATCH.min((MAX_AUDIT_SCAN - scanned) as u32).max(1);
            let range = match &cursor {
                None => Range::All,
                Some(c) if forward => Range::After(c),
                Some(c) => Range::Before(c),
            };
            let items = self.table.query(p, range, forward, Some(want)).await?;
            let end = items.len() < want as usize;
            let count = items.len();
            for (i, item) in items.iter().enumerate() {
                let sk = get_s(item, SK)?.to_string();
                scanned += 1;
                let e: AuditEntry = body(item)?;
                cursor = Some(sk.clone());
                if q.matches(&e) {
                    entries.push((sk, e));
                    if entries.len() >= q.limit as usize {
                        let last = end && i + 1 == count;
                        let next = if last { None } else { cursor };
                        return Ok(AuditPage { entries, next });
                    }
                }
            }
            if end {
                return Ok(AuditPage {
                    entries,
                    next: None,
                });
            }
            if scanned >= MAX_AUDIT_SCAN {
                return Ok(AuditPage {
                    entries,
                    next: cursor,
                });
            }
        }
    }
}

#[async_trait]
impl AuditStore for Aws {
    async fn append(&self, tenant: TenantId, record: &AuditRecord) -> StoreResult<()> {
        self.append_entries(tenant, &[AuditEntry::from(record.clone())])
            .await
    }

    async fn recent(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let p = Partition::new(tenant, Kind::Audit);
        let items = self.table.query(&p, Range::All, false, Some(limit)).await?;
        items.iter().map(body).collect()
    }

    async fn append_entries(&self, tenant: TenantId, entries: &[AuditEntry]) -> StoreResult<()> {
        for chunk in chunks(entries, entry_write_count) {
            let mut done = false;
            for _ in 0..ATTEMPTS {
                let mut writes = Vec::new();
                for e in chunk {
                    writes.extend(entry_writes(tenant, e)?);
                }
                if let TxOutcome::Committed = self.table.transact(writes).await? {
                    done = true;
                    break;
                }
                // A key collision or a concurrent transaction: new keys, try again.
            }
            if !done {
                return Err(StoreError::Backend(
                    "audit append failed repeatedly (key collisions or conflicts)".into(),
                ));
            }
        }
        Ok(())
    }

    async fn query(&self, tenant: TenantId, q: &AuditQuery) -> StoreResult<AuditPage> {
        if q.limit == 0 {
            return Ok(AuditPage::default());
        }
        let p = match q.device {
            Some(d) => Partition::sharded(tenant, Kind::AuditByDevice, d),
            None => Partition::new(tenant, Kind::Audit),
        };
        self.audit_query_partition(&p, q).await
    }

    async fn chain_head(
        &self,
        tenant: TenantId,
        device: DeviceId,
    ) -> StoreResult<Option<ChainLink>> {
        let p = chain_partition(tenant, device);
        let items = self.table.query(&p, Range::All, false, Some(1)).await?;
        items.first().map(body).transpose()
    }

    async fn chain_links(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from_seq: u64,
        to_seq: u64,
    ) -> StoreResult<Vec<ChainLink>> {
        if to_seq < from_seq {
            return Ok(Vec::new());
        }
        let p = chain_partition(tenant, device);
        let after = pad(from_seq.saturating_sub(1));
        let range = if from_seq == 0 {
            Range::All
        } else {
            Range::After(&after)
        };
        let want = u32::try_from((to_seq - from_seq).saturating_add(1)).unwrap_or(u32::MAX);
        let items = self.table.query(&p, range, true, Some(want)).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let link: ChainLink = body(item)?;
            if link.seq <= to_seq {
                out.push(link);
            }
        }
        Ok(out)
    }

    async fn append_chain(
        &self,
        tenant: TenantId,
        device: DeviceId,
        entries: &[ChainEntry],
    ) -> StoreResult<usize> {
        let p = chain_partition(tenant, device);
        let mut stored = 0;
        for chunk in chunks(entries, |e| {
            1 + e.entries.iter().map(entry_write_count).sum::<usize>()
        }) {
            let mut chunk = chunk;
            let mut shrunk = false;
            let mut attempts = 0;
            loop {
                if chunk.is_empty() {
                    return Ok(stored);
                }
                let mut writes = Vec::new();
                let mut link_at = Vec::with_capacity(chunk.len());
                for e in chunk {
                    let mut link: Item = Table::item(&p, pad(e.link.seq));
                    set_body(&mut link, &e.link)?;
                    link_at.push(writes.len());
                    writes.push(TxWrite::Put(link, Cond::New));
                    for entry in &e.entries {
                        writes.extend(entry_writes(tenant, entry)?);
                    }
                }
                match self.table.transact(writes).await? {
                    TxOutcome::Committed => {
                        stored += chunk.len();
                        if shrunk {
                            return Ok(stored);
                        }
                        break;
                    }
                    TxOutcome::Cancelled(reasons) => {
                        let exists = link_at.iter().position(|&i| {
                            reasons.get(i).is_some_and(|(code, _)| {
                                code.as_deref() == Some("ConditionalCheckFailed")
                            })
                        });
                        if let Some(k) = exists {
                            // That seq is already stored: store the events before it only.
                            chunk = &chunk[..k];
                            shrunk = true;
                            continue;
                        }
                        attempts += 1;
                        if attempts >= ATTEMPTS {
                            return Err(StoreError::Backend(
                                "audit chain append failed repeatedly (conflicts)".into(),
                            ));
                        }
                    }
                }
            }
        }
        Ok(stored)
    }
}
