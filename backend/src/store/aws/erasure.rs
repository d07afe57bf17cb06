//! `ErasureStore` on DynamoDB: the ledger at `T#<t>#ERASE` / `<client>`. Finding a client's
//! versions reads the tenant's feed partition once with a filter on the body (the client id
//! is in every version's metadata), so no push pays for a per-client index; a purge deletes
//! with `BatchWriteItem`, the feed items last.

use async_trait::async_trait;
use ward_proto::erasure::Erasure;
use ward_proto::{ObjectId, TenantId};

use super::Aws;
use super::table::{Cond, Kind, Partition, Range, Table, body, get_n, opt_b, pad, set_body};
use crate::model::{BreakGlassGrant, QuarantineItem, StoredObject};
use crate::store::StoreResult;
use crate::store::erasure::{ErasureStore, Purged, VersionRef};

#[async_trait]
impl ErasureStore for Aws {
    async fn put_erasure(&self, tenant: TenantId, erasure: &Erasure) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Erasure);
        let mut item = Table::item(&p, erasure.client_id.to_string());
        set_body(&mut item, erasure)?;
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn erasures(&self, tenant: TenantId) -> StoreResult<Vec<Erasure>> {
        let p = Partition::new(tenant, Kind::Erasure);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(body).collect()
    }

    async fn client_versions(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<VersionRef>> {
        let p = Partition::new(tenant, Kind::Feed);
        let items = self
            .table
            .query_body_containing(&p, &client.to_string())
            .await?;
        let mut out = Vec::new();
        for item in &items {
            let o: StoredObject = body(item)?;
            if o.object_id == client || o.client_id == Some(client) {
                out.push(VersionRef {
                    object: o.object_id,
                    version: o.version_id,
                    seq: get_n(item, "seq")?,
                    blob: opt_b(item, "env")?.is_none(),
                    created_at_ms: o.created_at_ms,
                });
            }
        }
        out.sort_by_key(|v| v.seq);
        Ok(out)
    }

    async fn purge_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
        versions: &[VersionRef],
    ) -> StoreResult<Purged> {
        let mut doomed: Vec<(Partition, String)> = Vec::new();
        let keys_p = Partition::new(tenant, Kind::ClientKey);
        let prefix = format!("{client}#");
        let keys = self
            .table
            .query(&keys_p, Range::Prefix(&prefix), true, None)
            .await?;
        let key_count = keys.len() as u64;
        for k in &keys {
            doomed.push((keys_p.clone(), super::table::get_s(k, "sk")?.to_string()));
        }
        let team_p = Partition::new(tenant, Kind::CareTeam);
        let caseload_p = Partition::new(tenant, Kind::Caseload);
        for m in self
            .table
            .query(&team_p, Range::Prefix(&prefix), true, None)
            .await?
        {
            let sk = super::table::get_s(&m, "sk")?.to_string();
            if let Some((_, user)) = sk.split_once('#') {
                doomed.push((caseload_p.clone(), format!("{user}#{client}")));
            }
            doomed.push((team_p.clone(), sk));
        }
        let grants_p = Partition::new(tenant, Kind::BreakGlass);
        for g in self.table.query(&grants_p, Range::All, true, None).await? {
            let grant: BreakGlassGrant = body(&g)?;
            if grant.client_id == client {
                doomed.push((grants_p.clone(), grant.grant_id));
            }
        }
        let quarantine_p = Partition::new(tenant, Kind::Quarantine);
        for q in self
            .table
            .query(&quarantine_p, Range::All, true, None)
            .await?
        {
            let item: QuarantineItem = body(&q)?;
            if item.client_id == Some(client) || item.object_id == client {
                doomed.push((quarantine_p.clone(), item.version_id.to_string()));
            }
        }
        let (version_p, upload_p) = (
            Partition::new(tenant, Kind::Version),
            Partition::new(tenant, Kind::Upload),
        );
        for v in versions {
            let sk = format!("{}#{}", v.object, v.version);
            doomed.push((version_p.clone(), sk.clone()));
            doomed.push((upload_p.clone(), sk));
        }
        self.table.delete_many(&doomed).await?;
        // The feed items last: while one is left, a retry finds the version again.
        let feed_p = Partition::new(tenant, Kind::Feed);
        let feed: Vec<(Partition, String)> = versions
            .iter()
            .map(|v| (feed_p.clone(), pad(v.seq)))
            .collect();
        self.table.delete_many(&feed).await?;
        Ok(Purged {
            versions: versions.len() as u64,
            keys: key_count,
        })
    }
}
