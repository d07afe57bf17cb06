//! `TenantStore` on the embedded adapter: tenants in the `tenants` table (JSON bodies), their
//! wrapped keys as `tenant_key` records keyed by zero-padded epoch. The epoch moves inside one
//! transaction, so a concurrent rotation loses with `Conflict`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use ward_proto::TenantId;

use super::{Embedded, json, parse, rec_insert_new, rec_list, t};
use crate::error::StoreError;
use crate::model::{Tenant, WrappedTenantKey};
use crate::store::{StoreResult, TenantStore};

#[async_trait]
impl TenantStore for Embedded {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let (id, body) = (t(tenant.id), json(tenant)?);
        self.run(move |c| {
            let n = c.execute(
                "INSERT INTO tenants (tenant, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![id, body],
            )?;
            if n == 0 {
                Err(StoreError::Conflict("tenant exists".into()))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        let id = t(tenant);
        let body: Option<Vec<u8>> = self
            .run(move |c| {
                Ok(
                    c.query_row("SELECT body FROM tenants WHERE tenant = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        body.map(|b| parse(&b)).transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let bodies: Vec<Vec<u8>> = self
            .run(|c| {
                let mut s = c.prepare("SELECT body FROM tenants ORDER BY tenant")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_tenant_key(&self, tenant: TenantId, key: &WrappedTenantKey) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), format!("{:010}", key.epoch), json(key)?);
        self.run(move |c| rec_insert_new(c, &id, "tenant_key", &k, &body))
            .await
    }

    async fn tenant_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedTenantKey>> {
        let id = t(tenant);
        let bodies = self
            .run(move |c| rec_list(c, &id, "tenant_key", ""))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn set_current_epoch(
        &self,
        tenant: TenantId,
        expected: u32,
        new: u32,
    ) -> StoreResult<()> {
        let id = t(tenant);
        self.run(move |c| {
            let tx = c.transaction()?;
            let body: Vec<u8> = tx
                .query_row("SELECT body FROM tenants WHERE tenant = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| StoreError::Conflict("no such tenant".into()))?;
            let mut tenant: Tenant = parse(&body)?;
            if tenant.current_epoch != expected {
                return Err(StoreError::Conflict("epoch changed concurrently".into()));
            }
            tenant.current_epoch = new;
            tx.execute(
                "UPDATE tenants SET body = ?2 WHERE tenant = ?1",
                params![id, json(&tenant)?],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn set_offboarded(&self, tenant: TenantId, at_ms: i64) -> StoreResult<()> {
        let id = t(tenant);
        self.run(move |c| {
            let tx = c.transaction()?;
            let body: Vec<u8> = tx
                .query_row("SELECT body FROM tenants WHERE tenant = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| StoreError::Conflict("no such tenant".into()))?;
            let mut tenant: Tenant = parse(&body)?;
            tenant.offboarded_at_ms.get_or_insert(at_ms);
            tx.execute(
                "UPDATE tenants SET body = ?2 WHERE tenant = ?1",
                params![id, json(&tenant)?],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
