//! `AuditStore` on DynamoDB: records at `T#<t>#AUDIT`/`<time>#<random>`, JSON bodies, each
//! written with `attribute_not_exists` and never updated or deleted by any code path (the
//! adapter has none; the IAM policy should deny it too). The sort key is a hybrid clock: the
//! server's wall time in microseconds, bumped so it strictly increases within a process, plus
//! 64 random bits so that two processes never collide. `recent` reads the partition backwards.
//! Order across concurrent Lambda instances is wall-clock order (within clock skew): a per-
//! tenant counter would be exact but would add a hot item to every request.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use ring::rand::{SecureRandom, SystemRandom};
use ward_proto::TenantId;

use super::Aws;
use super::table::{Cond, Kind, Partition, Range, Table, body, set_body};
use crate::error::StoreError;
use crate::model::AuditRecord;
use crate::store::{AuditStore, StoreResult};

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

#[async_trait]
impl AuditStore for Aws {
    async fn append(&self, tenant: TenantId, record: &AuditRecord) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Audit);
        for _ in 0..3 {
            let mut item = Table::item(&p, audit_sk()?);
            set_body(&mut item, record)?;
            if self.table.put(item, Cond::New).await? {
                return Ok(());
            }
        }
        Err(StoreError::Backend("audit key collided repeatedly".into()))
    }

    async fn recent(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let p = Partition::new(tenant, Kind::Audit);
        let items = self.table.query(&p, Range::All, false, Some(limit)).await?;
        items.iter().map(body).collect()
    }
}
