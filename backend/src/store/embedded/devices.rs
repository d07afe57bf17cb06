//! `DeviceStore` on the embedded adapter: devices, sessions and request nonces are `records`
//! rows. Status changes and session revocation are read-modify-write inside one transaction; a
//! nonce is recorded with `INSERT … ON CONFLICT DO NOTHING`, so it is fresh exactly once.

use async_trait::async_trait;
use rusqlite::params;
use ward_proto::{DeviceId, TenantId};

use super::{Embedded, json, parse, rec_get, rec_insert_new, rec_list, rec_put, t};
use crate::model::{Device, DeviceStatus, Session};
use crate::store::{DeviceStore, StoreResult};

#[async_trait]
impl DeviceStore for Embedded {
    async fn create_device(&self, tenant: TenantId, device: &Device) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), device.device_id.to_string(), json(device)?);
        self.run(move |c| rec_insert_new(c, &id, "device", &k, &body))
            .await
    }

    async fn get_device(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Option<Device>> {
        let (id, k) = (t(tenant), device.to_string());
        self.run(move |c| rec_get(c, &id, "device", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn list_devices(&self, tenant: TenantId) -> StoreResult<Vec<Device>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, "device", "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn set_device_status(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from: &[DeviceStatus],
        to: DeviceStatus,
    ) -> StoreResult<bool> {
        let (id, k, from) = (t(tenant), device.to_string(), from.to_vec());
        self.run(move |c| {
            let tx = c.transaction()?;
            let Some(body) = rec_get(&tx, &id, "device", &k)? else {
                return Ok(false);
            };
            let mut d: Device = parse(&body)?;
            if !from.contains(&d.status) {
                return Ok(false);
            }
            d.status = to;
            rec_put(&tx, &id, "device", &k, &json(&d)?, None)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn touch_device(
        &self,
        tenant: TenantId,
        device: DeviceId,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), device.to_string());
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(body) = rec_get(&tx, &id, "device", &k)? {
                let mut d: Device = parse(&body)?;
                d.last_seen_ms = d.last_seen_ms.max(now_ms);
                rec_put(&tx, &id, "device", &k, &json(&d)?, None)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn put_session(&self, tenant: TenantId, session: &Session) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            format!("{}#{}", session.device_id, session.session_id),
            json(session)?,
            session.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "session", &k, &body, Some(exp)))
            .await
    }

    async fn get_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<Option<Session>> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| rec_get(c, &id, "session", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn revoke_device_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<u32> {
        let (id, prefix) = (t(tenant), format!("{device}#"));
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut n = 0;
            for body in rec_list(&tx, &id, "session", &prefix)? {
                let mut s: Session = parse(&body)?;
                if !s.revoked {
                    s.revoked = true;
                    let k = format!("{}#{}", s.device_id, s.session_id);
                    rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
                    n += 1;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    async fn list_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Vec<Session>> {
        let (id, prefix) = (t(tenant), format!("{device}#"));
        let bodies = self
            .run(move |c| rec_list(c, &id, "session", &prefix))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn end_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| {
            let tx = c.transaction()?;
            let mut ended = false;
            if let Some(body) = rec_get(&tx, &id, "session", &k)? {
                let mut s: Session = parse(&body)?;
                if !s.revoked {
                    s.revoked = true;
                    rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
                    ended = true;
                }
            }
            tx.commit()?;
            Ok(ended)
        })
        .await
    }

    async fn touch_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(body) = rec_get(&tx, &id, "session", &k)? {
                let mut s: Session = parse(&body)?;
                if s.last_used_ms < now_ms {
                    s.last_used_ms = now_ms;
                    rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn mark_authenticated(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        at_ms: i64,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), format!("{device}#{session_id}"));
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(body) = rec_get(&tx, &id, "session", &k)? {
                let mut s: Session = parse(&body)?;
                s.authenticated_at_ms = at_ms;
                rec_put(&tx, &id, "session", &k, &json(&s)?, Some(s.expires_at_ms))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn use_nonce(
        &self,
        tenant: TenantId,
        device: DeviceId,
        nonce: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{device}#{nonce}"));
        self.run(move |c| {
            // Expired nonces may be reused only after their window; clear them lazily.
            c.execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind = 'nonce' AND key = ?2 AND expires_at <= ?3",
                params![id, k, now_ms],
            )?;
            let n = c.execute(
                "INSERT INTO records (tenant, kind, key, body, expires_at) VALUES (?1, 'nonce', ?2, x'', ?3)
                 ON CONFLICT DO NOTHING",
                params![id, k, expires_at_ms],
            )?;
            Ok(n == 1)
        })
        .await
    }
}
