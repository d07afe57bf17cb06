//! `LifecycleStore` on DynamoDB. A tenant's policies are the `policy` attribute of its tenant
//! item and a device's wipe state the `wipe` attribute of its device item (JSON text, read back
//! over the body by the tenant and device readers). Quarantined versions live at
//! `T#<t>#QUAR`/`<version>` with an authoritative `qstatus` attribute, so an admin's decision is
//! one conditional update (`qstatus = pending`) and two admins cannot both decide.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use ward_proto::{DeviceId, TenantId, VersionId};

use super::Aws;
use super::table::{Cond, Item, Kind, Partition, Range, Set, Table, body, get_n, n, s, set_body};
use crate::error::StoreError;
use crate::model::{QuarantineItem, QuarantineStatus, Revocation, TenantPolicy, WipeState};
use crate::store::{LifecycleStore, StoreResult};

/// Attribute of the tenant item holding its policies (JSON).
pub(super) const POLICY: &str = "policy";
/// Attribute of the device item holding its wipe state (JSON).
pub(super) const WIPE: &str = "wipe";
/// Attribute of the device item holding its revocation progress (JSON).
pub(super) const REVOCATION: &str = "revocation";
const QSTATUS: &str = "qstatus";
const DECIDED: &str = "decided";

fn status_str(s: QuarantineStatus) -> &'static str {
    match s {
        QuarantineStatus::Pending => "pending",
        QuarantineStatus::Accepted => "accepted",
        QuarantineStatus::Rejected => "rejected",
    }
}

/// Parses a JSON text attribute, if present.
pub(super) fn json_attr<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> StoreResult<Option<T>> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(Some(serde_json::from_str(v)?)),
        Some(_) => Err(StoreError::Backend(format!("{name} is not a string"))),
        None => Ok(None),
    }
}

fn quarantine_from(item: &Item) -> StoreResult<QuarantineItem> {
    let mut q: QuarantineItem = body(item)?;
    q.status = match item.get(QSTATUS) {
        Some(AttributeValue::S(v)) if v == "accepted" => QuarantineStatus::Accepted,
        Some(AttributeValue::S(v)) if v == "rejected" => QuarantineStatus::Rejected,
        Some(AttributeValue::S(v)) if v == "pending" => QuarantineStatus::Pending,
        other => return Err(StoreError::Backend(format!("bad qstatus {other:?}"))),
    };
    q.decided_at_ms = if item.contains_key(DECIDED) {
        Some(get_n(item, DECIDED)?)
    } else {
        None
    };
    Ok(q)
}

impl Aws {
    /// Sets one JSON attribute of an existing device item.
    async fn set_device_json(
        &self,
        tenant: TenantId,
        device: DeviceId,
        attr: &'static str,
        json: String,
    ) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Device);
        let set = Set {
            expr: "SET #a = :a",
            names: vec![("#a", attr)],
            values: vec![(":a", s(json))],
        };
        if self
            .table
            .update(&p, &device.to_string(), set, Cond::Exists)
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Conflict("no such device".into()))
        }
    }
}

#[async_trait]
impl LifecycleStore for Aws {
    async fn set_tenant_policy(&self, tenant: TenantId, policy: &TenantPolicy) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Tenant);
        let set = Set {
            expr: "SET #p = :p",
            names: vec![("#p", POLICY)],
            values: vec![(":p", s(serde_json::to_string(policy)?))],
        };
        if self.table.update(&p, "TENANT", set, Cond::Exists).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict("no such tenant".into()))
        }
    }

    async fn set_device_wipe(
        &self,
        tenant: TenantId,
        device: DeviceId,
        wipe: &WipeState,
    ) -> StoreResult<()> {
        self.set_device_json(tenant, device, WIPE, serde_json::to_string(wipe)?)
            .await
    }

    async fn set_device_revocation(
        &self,
        tenant: TenantId,
        device: DeviceId,
        revocation: &Revocation,
    ) -> StoreResult<()> {
        self.set_device_json(
            tenant,
            device,
            REVOCATION,
            serde_json::to_string(revocation)?,
        )
        .await
    }

    async fn put_quarantine(&self, tenant: TenantId, q: &QuarantineItem) -> StoreResult<bool> {
        let p = Partition::new(tenant, Kind::Quarantine);
        let mut item = Table::item(&p, q.version_id.to_string());
        set_body(&mut item, q)?;
        item.insert(QSTATUS.into(), s(status_str(q.status)));
        self.table.put(item, Cond::New).await
    }

    async fn list_quarantine(&self, tenant: TenantId) -> StoreResult<Vec<QuarantineItem>> {
        let p = Partition::new(tenant, Kind::Quarantine);
        let items = self.table.query(&p, Range::All, true, None).await?;
        let mut out = items
            .iter()
            .map(quarantine_from)
            .collect::<StoreResult<Vec<_>>>()?;
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
        let p = Partition::new(tenant, Kind::Quarantine);
        let sk = version.to_string();
        let set = Set {
            expr: "SET #qs = :to, #d = :at",
            names: vec![("#qs", QSTATUS), ("#d", DECIDED)],
            values: vec![(":to", s(status_str(to))), (":at", n(at_ms))],
        };
        let cond = Cond::Expr(
            "attribute_exists(#pk) AND #qs = :pending".into(),
            vec![("#qs", QSTATUS)],
            vec![(":pending", s("pending"))],
        );
        if !self.table.update(&p, &sk, set, cond).await? {
            return Ok(None);
        }
        self.table
            .get(&p, &sk)
            .await?
            .map(|i| quarantine_from(&i))
            .transpose()
    }
}
