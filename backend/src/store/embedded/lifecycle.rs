//! `LifecycleStore` on the embedded adapter: policies live in the tenant's JSON body, wipe
//! state in the device's, and quarantined versions are `quarantine` records keyed by version
//! id. Each change is read-modify-write inside one SQLite transaction, so an admin's decision
//! on a quarantined version happens once.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use ward_proto::{DeviceId, TenantId, VersionId};

use super::{Embedded, json, parse, rec_get, rec_insert_new, rec_list, rec_put, t};
use crate::error::StoreError;
use crate::model::{
    Device, QuarantineItem, QuarantineStatus, Revocation, Tenant, TenantPolicy, WipeState,
};
use crate::store::{LifecycleStore, StoreResult};

const QUARANTINE: &str = "quarantine";

impl Embedded {
    /// Changes an existing device record in one transaction.
    async fn update_device(
        &self,
        tenant: TenantId,
        device: DeviceId,
        change: impl FnOnce(&mut Device) + Send + 'static,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), device.to_string());
        self.run(move |c| {
            let tx = c.transaction()?;
            let body = rec_get(&tx, &id, "device", &k)?
                .ok_or_else(|| StoreError::Conflict("no such device".into()))?;
            let mut d: Device = parse(&body)?;
            change(&mut d);
            rec_put(&tx, &id, "device", &k, &json(&d)?, None)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl LifecycleStore for Embedded {
    async fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> StoreResult<()> {
        let (id, policy) = (t(tenant), policy.clone());
        self.run(move |c| {
            let tx = c.transaction()?;
            let body: Vec<u8> = tx
                .query_row("SELECT body FROM tenants WHERE tenant = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| StoreError::Conflict("no such tenant".into()))?;
            let mut tenant: Tenant = parse(&body)?;
            tenant.policy = policy;
            tx.execute(
                "UPDATE tenants SET body = ?2 WHERE tenant = ?1",
                params![id, json(&tenant)?],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn set_device_wipe(
        &self,
        tenant: TenantId,
        device: DeviceId,
        wipe: &WipeState,
    ) -> StoreResult<()> {
        let wipe = wipe.clone();
        self.update_device(tenant, device, move |d| d.wipe = Some(wipe))
            .await
    }

    async fn set_device_revocation(
        &self,
        tenant: TenantId,
        device: DeviceId,
        revocation: &Revocation,
    ) -> StoreResult<()> {
        let rev = revocation.clone();
        self.update_device(tenant, device, move |d| d.revocation = Some(rev))
            .await
    }

    async fn put_quarantine(&self, tenant: TenantId, item: &QuarantineItem) -> StoreResult<bool> {
        let (id, k, body) = (t(tenant), item.version_id.to_string(), json(item)?);
        self.run(
            move |c| match rec_insert_new(c, &id, QUARANTINE, &k, &body) {
                Ok(()) => Ok(true),
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(e) => Err(e),
            },
        )
        .await
    }

    async fn list_quarantine(&self, tenant: TenantId) -> StoreResult<Vec<QuarantineItem>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, QUARANTINE, "")).await?;
        let mut out = bodies
            .iter()
            .map(|b| parse(b))
            .collect::<StoreResult<Vec<QuarantineItem>>>()?;
        out.sort_by_key(|q| q.received_at_ms);
        Ok(out)
    }

    async fn decide_quarantine(
        &self,
        tenant: TenantId,
        version: VersionId,
        to: QuarantineStatus,
        at_ms: i64,
    ) -> StoreResult<Option<QuarantineItem>> {
        let (id, k) = (t(tenant), version.to_string());
        self.run(move |c| {
            let tx = c.transaction()?;
            let Some(body) = rec_get(&tx, &id, QUARANTINE, &k)? else {
                return Ok(None);
            };
            let mut q: QuarantineItem = parse(&body)?;
            if q.status != QuarantineStatus::Pending {
                return Ok(None);
            }
            q.status = to;
            q.decided_at_ms = Some(at_ms);
            rec_put(&tx, &id, QUARANTINE, &k, &json(&q)?, None)?;
            tx.commit()?;
            Ok(Some(q))
        })
        .await
    }
}
