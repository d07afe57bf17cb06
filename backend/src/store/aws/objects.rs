//! `ObjectStore` on DynamoDB: the per-tenant change feed at `T#<t>#OBJ`/`<zero-padded seq>`
//! (metadata as JSON, the envelope inline as a Binary attribute), one idempotency item per
//! object version at `T#<t>#OBJV`/`<object>#<version>` (its `seq` and `sha`), a counter at
//! `T#<t>#CTR`/`FEED`, and photo upload state at `T#<t>#UPLOAD`/`<object>#<version>`. A new
//! version is one TransactWriteItems: put the version item (`attribute_not_exists`), put the
//! feed item at `counter + 1` (`attribute_not_exists`), and move the counter from the value
//! read to `+ 1` (conditional). Either all three land or none, so `seq` is gap-free, strictly
//! increasing per tenant, and never becomes visible out of order (a reader that has seen `n`
//! can never later find a new item below `n`); a lost race re-reads the counter and retries,
//! and a failed version condition means an existing version: `Duplicate` for the same SHA-256,
//! `Conflict` for other bytes.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use ring::rand::{SecureRandom, SystemRandom};
use ward_proto::{ObjectId, TenantId, VersionId};

use super::Aws;
use super::table::{
    Cond, Item, Kind, Partition, Range, Set, Table, TxOutcome, TxWrite, body, get_n, get_s, n,
    opt_b, opt_n, pad, s, set_body,
};
use crate::error::StoreError;
use crate::model::{StoredObject, UploadState};
use crate::store::{ObjectStore, PutOutcome, StoreResult};

/// The largest envelope stored inline in a feed item: DynamoDB items are limited to 400 KB
/// (names, metadata and the envelope together). Larger content goes to S3 as a blob. The
/// domain refuses bigger pushes on every adapter; this is the adapter's own guard.
pub const MAX_INLINE_ENVELOPE: usize = ward_proto::api::MAX_INLINE_ENVELOPE_BYTES;

const SEQ: &str = "seq";
const SHA: &str = "sha";
const ENV: &str = "env";
/// On a version item: set when the version locks its object (a signed note or an addendum).
const LOCKS: &str = "lk";
const FEED_COUNTER: &str = "FEED";
/// How often a put retries after losing the counter race before giving up.
const MAX_ATTEMPTS: u32 = 25;
/// Object lookups a push runs at once against DynamoDB.
const LOOKUP_CONCURRENCY: usize = 16;

fn version_sk(object: ObjectId, version: VersionId) -> String {
    format!("{object}#{version}")
}

fn object_from(item: &Item) -> StoreResult<StoredObject> {
    let mut o: StoredObject = body(item)?;
    o.seq = get_n(item, SEQ)?;
    o.envelope = opt_b(item, ENV)?;
    Ok(o)
}

fn outcome_of(existing: &Item, sha256: &str) -> StoreResult<PutOutcome> {
    let seq = get_n(existing, SEQ)?;
    Ok(if get_s(existing, SHA)? == sha256 {
        PutOutcome::Duplicate { seq }
    } else {
        PutOutcome::Conflict
    })
}

async fn backoff(attempt: u32) {
    let mut jitter = [0u8; 1];
    let _ = SystemRandom::new().fill(&mut jitter);
    let base = 2u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(base + u64::from(jitter[0] % 16))).await;
}

#[async_trait]
impl ObjectStore for Aws {
    async fn put_object(&self, tenant: TenantId, o: &StoredObject) -> StoreResult<PutOutcome> {
        if o.envelope
            .as_ref()
            .is_some_and(|e| e.len() > MAX_INLINE_ENVELOPE)
        {
            return Err(StoreError::Backend(format!(
                "envelope exceeds {MAX_INLINE_ENVELOPE} bytes: store it as a blob"
            )));
        }
        let vp = Partition::new(tenant, Kind::Version);
        let fp = Partition::new(tenant, Kind::Feed);
        let cp = Partition::new(tenant, Kind::Counter);
        let vsk = version_sk(o.object_id, o.version_id);
        // The common retry case costs one read and no transaction.
        if let Some(existing) = self.table.get(&vp, &vsk).await? {
            return outcome_of(&existing, &o.sha256);
        }
        let mut meta = o.clone();
        meta.envelope = None;
        for attempt in 0..MAX_ATTEMPTS {
            let prev: u64 = match self.table.get(&cp, FEED_COUNTER).await? {
                Some(c) => opt_n(&c, SEQ)?.unwrap_or(0),
                None => 0,
            };
            let seq = prev + 1;
            meta.seq = seq;

            let mut version = Table::item(&vp, vsk.clone());
            version.insert(SEQ.into(), n(seq));
            version.insert(SHA.into(), s(o.sha256.clone()));
            if o.locks() {
                version.insert(LOCKS.into(), AttributeValue::Bool(true));
            }

            let mut feed = Table::item(&fp, pad(seq));
            set_body(&mut feed, &meta)?;
            feed.insert(SEQ.into(), n(seq));
            if let Some(env) = &o.envelope {
                feed.insert(ENV.into(), AttributeValue::B(env.clone().into()));
            }

            let counter_cond = if prev == 0 {
                Cond::Expr("attribute_not_exists(#n)".into(), vec![("#n", SEQ)], vec![])
            } else {
                Cond::Expr(
                    "#n = :prev".into(),
                    vec![("#n", SEQ)],
                    vec![(":prev", n(prev))],
                )
            };
            let counter = Set {
                expr: "SET #n = :seq",
                names: vec![("#n", SEQ)],
                values: vec![(":seq", n(seq))],
            };
            let writes = vec![
                TxWrite::Put(version, Cond::New),
                TxWrite::Put(feed, Cond::New),
                TxWrite::Update(cp.clone(), FEED_COUNTER.into(), counter, counter_cond),
            ];
            match self.table.transact(writes).await? {
                TxOutcome::Committed => return Ok(PutOutcome::Created { seq }),
                TxOutcome::Cancelled(reasons) => {
                    if let Some((Some(code), old)) = reasons.first()
                        && code == "ConditionalCheckFailed"
                    {
                        let existing = match old {
                            Some(item) => Some(item.clone()),
                            None => self.table.get(&vp, &vsk).await?,
                        };
                        if let Some(existing) = existing {
                            return outcome_of(&existing, &o.sha256);
                        }
                    }
                    // Another writer took `seq` (or the transaction conflicted): re-read.
                    backoff(attempt).await;
                }
            }
        }
        Err(StoreError::Backend(
            "change feed too busy: gave up after repeated counter races".into(),
        ))
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let p = Partition::new(tenant, Kind::Feed);
        let after = pad(after_seq);
        let items = self
            .table
            .query(&p, Range::After(&after), true, Some(limit))
            .await?;
        items.iter().map(object_from).collect()
    }

    async fn has_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<bool> {
        let p = Partition::new(tenant, Kind::Version);
        let prefix = format!("{object}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, Some(1))
            .await?;
        Ok(!items.is_empty())
    }

    async fn any_version(
        &self,
        tenant: TenantId,
        object: ObjectId,
    ) -> StoreResult<Option<StoredObject>> {
        let p = Partition::new(tenant, Kind::Version);
        let prefix = format!("{object}#");
        // Every version item of the object (small: seq, sha and the lock mark), so that a
        // version that locks the object is the one returned (the port's contract).
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        let locking = items
            .iter()
            .find(|i| matches!(i.get(LOCKS), Some(AttributeValue::Bool(true))));
        // The version index holds the feed position; the version itself is the feed item.
        let Some(v) = locking.or(items.first()) else {
            return Ok(None);
        };
        let seq: u64 = get_n(v, SEQ)?;
        let fp = Partition::new(tenant, Kind::Feed);
        let item = self.table.get(&fp, &pad(seq)).await?;
        item.as_ref().map(object_from).transpose()
    }

    async fn any_versions(
        &self,
        tenant: TenantId,
        objects: &[ObjectId],
    ) -> StoreResult<std::collections::HashMap<ObjectId, StoredObject>> {
        // A prefix query per object (the version index is keyed by object#version), at most
        // `LOOKUP_CONCURRENCY` at a time.
        let mut out = std::collections::HashMap::new();
        for chunk in objects.chunks(LOOKUP_CONCURRENCY) {
            let mut set = tokio::task::JoinSet::new();
            for o in chunk {
                let (aws, o) = (self.clone(), *o);
                set.spawn(async move { (o, aws.any_version(tenant, o).await) });
            }
            while let Some(done) = set.join_next().await {
                let (o, found) = done.map_err(|e| StoreError::Backend(e.to_string()))?;
                if let Some(v) = found? {
                    out.insert(o, v);
                }
            }
        }
        Ok(out)
    }

    async fn put_upload(&self, tenant: TenantId, upload: &UploadState) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Upload);
        let mut item = Table::item(&p, version_sk(upload.object_id, upload.version_id));
        set_body(&mut item, upload)?;
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn get_upload(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<UploadState>> {
        let p = Partition::new(tenant, Kind::Upload);
        let item = self.table.get(&p, &version_sk(object, version)).await?;
        item.map(|i| body(&i)).transpose()
    }

    async fn get_object(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<StoredObject>> {
        let vp = Partition::new(tenant, Kind::Version);
        let Some(v) = self.table.get(&vp, &version_sk(object, version)).await? else {
            return Ok(None);
        };
        let seq: u64 = get_n(&v, SEQ)?;
        let fp = Partition::new(tenant, Kind::Feed);
        let item = self.table.get(&fp, &pad(seq)).await?;
        item.as_ref().map(object_from).transpose()
    }
}
