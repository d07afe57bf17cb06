//! `ClientKeyStore` on the embedded adapter: `client_key` records keyed
//! `<client>/<zero-padded generation>`, each inserted once.

use async_trait::async_trait;
use ward_proto::{ObjectId, TenantId};

use super::{Embedded, json, parse, rec_insert_new, rec_list, t};
use crate::store::StoreResult;
use crate::store::client_keys::{ClientKeyStore, WrappedClientKey};

const KIND: &str = "client_key";

#[async_trait]
impl ClientKeyStore for Embedded {
    async fn put_client_key(&self, tenant: TenantId, key: &WrappedClientKey) -> StoreResult<()> {
        let (id, k, body) = (
            t(tenant),
            format!("{}/{:010}", key.client, key.generation),
            json(key)?,
        );
        self.run(move |c| rec_insert_new(c, &id, KIND, &k, &body))
            .await
    }

    async fn client_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedClientKey>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, KIND, "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn keys_of_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<WrappedClientKey>> {
        let (id, prefix) = (t(tenant), format!("{client}/"));
        let bodies = self.run(move |c| rec_list(c, &id, KIND, &prefix)).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }
}
