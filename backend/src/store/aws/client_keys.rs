//! `ClientKeyStore` on DynamoDB: `T#<t>#CKEY` / `<client>#<zero-padded generation>`, each
//! generation written once (conditional put). One partition per tenant, so a release reads
//! every key of the clinic in one (paged) query.

use async_trait::async_trait;
use ward_proto::{ObjectId, TenantId};

use super::Aws;
use super::table::{Cond, Kind, Partition, Range, Table, body, pad, set_body};
use crate::error::StoreError;
use crate::store::StoreResult;
use crate::store::client_keys::{ClientKeyStore, WrappedClientKey};

#[async_trait]
impl ClientKeyStore for Aws {
    async fn put_client_key(&self, tenant: TenantId, key: &WrappedClientKey) -> StoreResult<()> {
        let sk = format!("{}#{}", key.client, pad(u64::from(key.generation)));
        let mut item = Table::item(&Partition::new(tenant, Kind::ClientKey), sk.clone());
        set_body(&mut item, key)?;
        if self.table.put(item, Cond::New).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!("client_key {sk} exists")))
        }
    }

    async fn client_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedClientKey>> {
        let p = Partition::new(tenant, Kind::ClientKey);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(body).collect()
    }

    async fn keys_of_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<WrappedClientKey>> {
        let p = Partition::new(tenant, Kind::ClientKey);
        let prefix = format!("{client}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        items.iter().map(body).collect()
    }
}
