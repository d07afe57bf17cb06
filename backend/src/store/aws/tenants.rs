//! `TenantStore` on DynamoDB. The tenant record lives at `T#<t>#TENANT`/`TENANT` with its JSON
//! body, an authoritative `epoch` attribute (moved only by a conditional update, so two
//! concurrent rotations cannot both win) and the sparse-index attributes that let
//! `list_tenants` find it. Wrapped tenant keys live at `T#<t>#TKEY`/`<zero-padded epoch>`,
//! each written once (conditional put).

use async_trait::async_trait;
use ward_proto::TenantId;

use super::Aws;
use super::table::{
    Cond, GSI_PK, GSI_SK, Item, Kind, Partition, Range, Set, TENANTS_GSI_PK, Table, body, get_n, n,
    pad, s, set_body,
};
use crate::error::StoreError;
use crate::model::{Tenant, WrappedTenantKey};
use crate::store::{StoreResult, TenantStore};

const TENANT_SK: &str = "TENANT";
const EPOCH: &str = "epoch";
const OFFBOARDED: &str = "offboarded";

fn tenant_from(item: &Item) -> StoreResult<Tenant> {
    let mut t: Tenant = body(item)?;
    t.current_epoch = get_n(item, EPOCH)?;
    if let Some(policy) = super::lifecycle::json_attr(item, super::lifecycle::POLICY)? {
        t.policy = policy;
    }
    if item.contains_key(OFFBOARDED) {
        t.offboarded_at_ms = Some(get_n(item, OFFBOARDED)?);
    }
    Ok(t)
}

#[async_trait]
impl TenantStore for Aws {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut item = Table::item(&Partition::new(tenant.id, Kind::Tenant), TENANT_SK);
        set_body(&mut item, tenant)?;
        item.insert(EPOCH.into(), n(tenant.current_epoch));
        item.insert(GSI_PK.into(), s(TENANTS_GSI_PK));
        item.insert(GSI_SK.into(), s(tenant.id.to_string()));
        if self.table.put(item, Cond::New).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict("tenant exists".into()))
        }
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        let p = Partition::new(tenant, Kind::Tenant);
        self.table
            .get(&p, TENANT_SK)
            .await?
            .map(|i| tenant_from(&i))
            .transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let items = self.table.list_tenant_items().await?;
        items.iter().map(tenant_from).collect()
    }

    async fn put_tenant_key(&self, tenant: TenantId, key: &WrappedTenantKey) -> StoreResult<()> {
        let sk = pad(u64::from(key.epoch));
        let mut item = Table::item(&Partition::new(tenant, Kind::TenantKey), sk.clone());
        set_body(&mut item, key)?;
        if self.table.put(item, Cond::New).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!("tenant_key {sk} exists")))
        }
    }

    async fn tenant_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedTenantKey>> {
        let p = Partition::new(tenant, Kind::TenantKey);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(body).collect()
    }

    async fn set_current_epoch(
        &self,
        tenant: TenantId,
        expected: u32,
        new: u32,
    ) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Tenant);
        let set = Set {
            expr: "SET #e = :new",
            names: vec![("#e", EPOCH)],
            values: vec![(":new", n(new))],
        };
        let cond = Cond::Expr(
            "attribute_exists(#pk) AND #e = :expected".into(),
            vec![("#e", EPOCH)],
            vec![(":expected", n(expected))],
        );
        if self.table.update(&p, TENANT_SK, set, cond).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "no such tenant, or its epoch changed concurrently".into(),
            ))
        }
    }

    async fn set_offboarded(&self, tenant: TenantId, at_ms: i64) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Tenant);
        let set = Set {
            expr: "SET #o = if_not_exists(#o, :at)",
            names: vec![("#o", OFFBOARDED)],
            values: vec![(":at", n(at_ms))],
        };
        if self.table.update(&p, TENANT_SK, set, Cond::Exists).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict("no such tenant".into()))
        }
    }
}
