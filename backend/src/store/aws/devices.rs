//! `DeviceStore` on DynamoDB. Devices live at `T#<t>#DEVICE`/`<device>` with the JSON body plus
//! authoritative `status` and `seen` attributes, so lifecycle moves are one conditional update
//! (`status IN (from…)`) and `touch_device` only ever moves `seen` forward. Sessions live at
//! `T#<t>#SESSION`/`<device>#<session>` (authoritative `revoked` and `auth` attributes, `exp` and
//! `ttl`); revoking a device's sessions queries that prefix. Request nonces get one partition
//! per device, `T#<t>#NONCE#<device>`/`<nonce>`, written with `attribute_not_exists OR expired`
//! so only the first use inside the window succeeds and an expired one may be reused.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use ward_proto::{DeviceId, TenantId};

use super::Aws;
use super::table::{
    Cond, EXP, Item, Kind, Partition, Range, Set, Table, body, get_n, get_s, n, s, set_body,
    set_expiry,
};
use crate::error::StoreError;
use crate::model::{Device, DeviceStatus, Session};
use crate::store::{DeviceStore, StoreResult};

const STATUS: &str = "status";
const SEEN: &str = "seen";
const REVOKED: &str = "revoked";
const AUTH: &str = "auth";
const USED: &str = "used";

fn status_str(s: DeviceStatus) -> &'static str {
    match s {
        DeviceStatus::Pending => "pending",
        DeviceStatus::Active => "active",
        DeviceStatus::Revoked => "revoked",
        DeviceStatus::Wiped => "wiped",
    }
}

fn status_from(v: &str) -> StoreResult<DeviceStatus> {
    Ok(match v {
        "pending" => DeviceStatus::Pending,
        "active" => DeviceStatus::Active,
        "revoked" => DeviceStatus::Revoked,
        "wiped" => DeviceStatus::Wiped,
        other => {
            return Err(StoreError::Backend(format!(
                "unknown device status {other:?}"
            )));
        }
    })
}

fn device_from(item: &Item) -> StoreResult<Device> {
    let mut d: Device = body(item)?;
    d.status = status_from(get_s(item, STATUS)?)?;
    d.last_seen_ms = get_n(item, SEEN)?;
    if let Some(wipe) = super::lifecycle::json_attr(item, super::lifecycle::WIPE)? {
        d.wipe = Some(wipe);
    }
    if let Some(rev) = super::lifecycle::json_attr(item, super::lifecycle::REVOCATION)? {
        d.revocation = Some(rev);
    }
    Ok(d)
}

fn session_from(item: &Item) -> StoreResult<Session> {
    let mut sess: Session = body(item)?;
    sess.revoked = matches!(item.get(REVOKED), Some(AttributeValue::Bool(true)));
    sess.authenticated_at_ms = get_n(item, AUTH)?;
    if item.contains_key(USED) {
        sess.last_used_ms = get_n(item, USED)?;
    }
    Ok(sess)
}

fn session_sk(device: DeviceId, session_id: &str) -> String {
    format!("{device}#{session_id}")
}

/// Placeholders for `status IN (...)`: one per status, at most every status once.
const FROM: [&str; 4] = [":f0", ":f1", ":f2", ":f3"];

#[async_trait]
impl DeviceStore for Aws {
    async fn create_device(&self, tenant: TenantId, device: &Device) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Device);
        let mut item = Table::item(&p, device.device_id.to_string());
        set_body(&mut item, device)?;
        item.insert(STATUS.into(), s(status_str(device.status)));
        item.insert(SEEN.into(), n(device.last_seen_ms));
        if self.table.put(item, Cond::New).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "device {} exists",
                device.device_id
            )))
        }
    }

    async fn get_device(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Option<Device>> {
        let p = Partition::new(tenant, Kind::Device);
        let item = self.table.get(&p, &device.to_string()).await?;
        item.as_ref().map(device_from).transpose()
    }

    async fn list_devices(&self, tenant: TenantId) -> StoreResult<Vec<Device>> {
        let p = Partition::new(tenant, Kind::Device);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(device_from).collect()
    }

    async fn set_device_status(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from: &[DeviceStatus],
        to: DeviceStatus,
    ) -> StoreResult<bool> {
        let mut distinct: Vec<DeviceStatus> = Vec::new();
        for f in from {
            if !distinct.contains(f) {
                distinct.push(*f);
            }
        }
        if distinct.is_empty() {
            return Ok(false);
        }
        let values: Vec<(&'static str, AttributeValue)> = FROM
            .iter()
            .zip(&distinct)
            .map(|(ph, st)| (*ph, s(status_str(*st))))
            .collect();
        let list = FROM[..values.len()].join(", ");
        let cond = Cond::Expr(
            format!("attribute_exists(#pk) AND #st IN ({list})"),
            vec![("#st", STATUS)],
            values,
        );
        let set = Set {
            expr: "SET #st = :to",
            names: vec![("#st", STATUS)],
            values: vec![(":to", s(status_str(to)))],
        };
        let p = Partition::new(tenant, Kind::Device);
        self.table.update(&p, &device.to_string(), set, cond).await
    }

    async fn touch_device(
        &self,
        tenant: TenantId,
        device: DeviceId,
        now_ms: i64,
    ) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Device);
        let set = Set {
            expr: "SET #seen = :now",
            names: vec![("#seen", SEEN)],
            values: vec![(":now", n(now_ms))],
        };
        // Only forward, and never creates a device: a failed condition is the intended no-op.
        let cond = Cond::Expr(
            "attribute_exists(#pk) AND #seen < :now".into(),
            vec![("#seen", SEEN)],
            Vec::new(),
        );
        self.table
            .update(&p, &device.to_string(), set, cond)
            .await
            .map(drop)
    }

    async fn put_session(&self, tenant: TenantId, session: &Session) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Session);
        let mut item = Table::item(&p, session_sk(session.device_id, &session.session_id));
        set_body(&mut item, session)?;
        item.insert(REVOKED.into(), AttributeValue::Bool(session.revoked));
        item.insert(AUTH.into(), n(session.authenticated_at_ms));
        set_expiry(&mut item, session.expires_at_ms);
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn get_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<Option<Session>> {
        // Returned even when past `expires_at_ms`, like the embedded adapter: the domain checks
        // expiry against its own clock. TTL only garbage-collects.
        let p = Partition::new(tenant, Kind::Session);
        let item = self.table.get(&p, &session_sk(device, session_id)).await?;
        item.as_ref().map(session_from).transpose()
    }

    async fn revoke_device_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<u32> {
        let p = Partition::new(tenant, Kind::Session);
        let prefix = format!("{device}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        let mut revoked = 0;
        for item in &items {
            let sess = session_from(item)?;
            if sess.revoked {
                continue;
            }
            let set = Set {
                expr: "SET #r = :t",
                names: vec![("#r", REVOKED)],
                values: vec![(":t", AttributeValue::Bool(true))],
            };
            let cond = Cond::Expr(
                "attribute_exists(#pk) AND #r = :f".into(),
                vec![("#r", REVOKED)],
                vec![(":f", AttributeValue::Bool(false))],
            );
            let sk = session_sk(sess.device_id, &sess.session_id);
            if self.table.update(&p, &sk, set, cond).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn list_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Vec<Session>> {
        let p = Partition::new(tenant, Kind::Session);
        let prefix = format!("{device}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        items.iter().map(session_from).collect()
    }

    async fn end_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<bool> {
        let p = Partition::new(tenant, Kind::Session);
        let set = Set {
            expr: "SET #r = :t",
            names: vec![("#r", REVOKED)],
            values: vec![(":t", AttributeValue::Bool(true))],
        };
        let cond = Cond::Expr(
            "attribute_exists(#pk) AND #r = :f".into(),
            vec![("#r", REVOKED)],
            vec![(":f", AttributeValue::Bool(false))],
        );
        self.table
            .update(&p, &session_sk(device, session_id), set, cond)
            .await
    }

    async fn touch_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Session);
        let set = Set {
            expr: "SET #u = :now",
            names: vec![("#u", USED)],
            values: vec![(":now", n(now_ms))],
        };
        // Only forward, never creating a session: a failed condition is the intended no-op.
        let cond = Cond::Expr(
            "attribute_exists(#pk) AND (attribute_not_exists(#u) OR #u < :now)".into(),
            vec![("#u", USED)],
            Vec::new(),
        );
        self.table
            .update(&p, &session_sk(device, session_id), set, cond)
            .await
            .map(drop)
    }

    async fn mark_authenticated(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        at_ms: i64,
    ) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Session);
        let set = Set {
            expr: "SET #a = :at",
            names: vec![("#a", AUTH)],
            values: vec![(":at", n(at_ms))],
        };
        self.table
            .update(&p, &session_sk(device, session_id), set, Cond::Exists)
            .await
            .map(drop)
    }

    async fn use_nonce(
        &self,
        tenant: TenantId,
        device: DeviceId,
        nonce: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> StoreResult<bool> {
        let p = Partition::sharded(tenant, Kind::Nonce, device);
        let mut item = Table::item(&p, nonce);
        set_expiry(&mut item, expires_at_ms);
        let cond = Cond::Expr(
            "attribute_not_exists(#pk) OR #x <= :now".into(),
            vec![("#x", EXP)],
            vec![(":now", n(now_ms))],
        );
        self.table.put(item, cond).await
    }
}
