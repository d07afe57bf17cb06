//! `IdentityStore` on the embedded adapter: users, passkeys, invites, ceremonies and care-team
//! memberships are `records` rows. Invites and ceremonies carry an expiry and are consumed with
//! one `DELETE … RETURNING`, so exactly one caller gets each.

use async_trait::async_trait;
use ward_proto::{ObjectId, TenantId};

use super::{Embedded, json, parse, rec_get, rec_list, rec_put, rec_take, t};
use crate::error::StoreError;
use crate::model::{BreakGlassGrant, Ceremony, Credential, Invite, User};
use crate::store::{IdentityStore, StoreResult};

#[async_trait]
impl IdentityStore for Embedded {
    async fn put_user(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), user.user_id.to_string(), json(user)?);
        self.run(move |c| rec_put(c, &id, "user", &k, &body, None))
            .await
    }

    async fn get_user(&self, tenant: TenantId, user_id: uuid::Uuid) -> StoreResult<Option<User>> {
        let (id, k) = (t(tenant), user_id.to_string());
        self.run(move |c| rec_get(c, &id, "user", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let id = t(tenant);
        let bodies = self.run(move |c| rec_list(c, &id, "user", "")).await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_credential(&self, tenant: TenantId, cred: &Credential) -> StoreResult<()> {
        let (id, k, body) = (
            t(tenant),
            format!("{}#{}", cred.user_id, cred.credential_id),
            json(cred)?,
        );
        self.run(move |c| rec_put(c, &id, "credential", &k, &body, None))
            .await
    }

    async fn credentials(
        &self,
        tenant: TenantId,
        user_id: uuid::Uuid,
    ) -> StoreResult<Vec<Credential>> {
        let (id, prefix) = (t(tenant), format!("{user_id}#"));
        let bodies = self
            .run(move |c| rec_list(c, &id, "credential", &prefix))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }

    async fn put_invite(&self, tenant: TenantId, invite: &Invite) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            invite.code_hash.clone(),
            json(invite)?,
            invite.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "invite", &k, &body, Some(exp)))
            .await
    }

    async fn get_invite(&self, tenant: TenantId, code_hash: &str) -> StoreResult<Option<Invite>> {
        let (id, k) = (t(tenant), code_hash.to_string());
        self.run(move |c| rec_get(c, &id, "invite", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn take_invite(
        &self,
        tenant: TenantId,
        code_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Invite>> {
        let (id, k) = (t(tenant), code_hash.to_string());
        self.run(move |c| rec_take(c, &id, "invite", &k, now_ms))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn put_ceremony(&self, tenant: TenantId, ceremony: &Ceremony) -> StoreResult<()> {
        let (id, k, body, exp) = (
            t(tenant),
            ceremony.id.clone(),
            json(ceremony)?,
            ceremony.expires_at_ms,
        );
        self.run(move |c| rec_put(c, &id, "ceremony", &k, &body, Some(exp)))
            .await
    }

    async fn take_ceremony(
        &self,
        tenant: TenantId,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Ceremony>> {
        let (tid, k) = (t(tenant), id.to_string());
        self.run(move |c| rec_take(c, &tid, "ceremony", &k, now_ms))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn add_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<()> {
        let (id, k) = (t(tenant), format!("{client}#{user}"));
        self.run(move |c| rec_put(c, &id, "care_team", &k, b"{}", None))
            .await
    }

    async fn on_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{client}#{user}"));
        Ok(self
            .run(move |c| rec_get(c, &id, "care_team", &k))
            .await?
            .is_some())
    }

    async fn list_care_teams(&self, tenant: TenantId) -> StoreResult<Vec<(ObjectId, uuid::Uuid)>> {
        let id = t(tenant);
        let keys: Vec<String> = self
            .run(move |c| {
                let mut s = c.prepare(
                    "SELECT key FROM records WHERE tenant = ?1 AND kind = 'care_team' ORDER BY key",
                )?;
                let rows = s.query_map([id], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        keys.iter().map(|k| member_key(k)).collect()
    }

    async fn remove_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool> {
        let (id, k) = (t(tenant), format!("{client}#{user}"));
        self.run(move |c| {
            let n = c.execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind = 'care_team' AND key = ?2",
                rusqlite::params![id, k],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn care_team(&self, tenant: TenantId, client: ObjectId) -> StoreResult<Vec<uuid::Uuid>> {
        let (id, prefix) = (t(tenant), format!("{client}#"));
        let keys = self
            .run(move |c| rec_keys(c, &id, "care_team", &prefix))
            .await?;
        keys.iter().map(|k| member_key(k).map(|(_, u)| u)).collect()
    }

    async fn caseload(&self, tenant: TenantId, user: uuid::Uuid) -> StoreResult<Vec<ObjectId>> {
        // One indexed range of the tenant's memberships, filtered by user (SQLite reads a
        // clinic's few thousand keys in well under a millisecond).
        let (id, suffix) = (t(tenant), format!("%#{user}"));
        let keys: Vec<String> = self
            .run(move |c| {
                let mut s = c.prepare(
                    "SELECT key FROM records WHERE tenant = ?1 AND kind = 'care_team' AND key LIKE ?2 ORDER BY key",
                )?;
                let rows = s.query_map(rusqlite::params![id, suffix], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        keys.iter().map(|k| member_key(k).map(|(c, _)| c)).collect()
    }

    async fn put_break_glass(&self, tenant: TenantId, grant: &BreakGlassGrant) -> StoreResult<()> {
        let (id, k, body) = (t(tenant), grant.grant_id.clone(), json(grant)?);
        self.run(move |c| rec_put(c, &id, "break_glass", &k, &body, None))
            .await
    }

    async fn list_break_glass(&self, tenant: TenantId) -> StoreResult<Vec<BreakGlassGrant>> {
        let id = t(tenant);
        let bodies = self
            .run(move |c| rec_list(c, &id, "break_glass", ""))
            .await?;
        bodies.iter().map(|b| parse(b)).collect()
    }
}

/// A care-team key `<client>#<user>`.
fn member_key(k: &str) -> StoreResult<(ObjectId, uuid::Uuid)> {
    let bad = || StoreError::Backend(format!("bad care team key {k:?}"));
    let (client, user) = k.split_once('#').ok_or_else(bad)?;
    Ok((
        client.parse().map_err(|_| bad())?,
        user.parse().map_err(|_| bad())?,
    ))
}

/// The keys of a kind under a prefix, in key order.
fn rec_keys(
    c: &rusqlite::Connection,
    tenant: &str,
    kind: &str,
    prefix: &str,
) -> StoreResult<Vec<String>> {
    let mut s = c.prepare(
        "SELECT key FROM records WHERE tenant = ?1 AND kind = ?2 AND substr(key, 1, length(?3)) = ?3 ORDER BY key",
    )?;
    let rows = s.query_map(rusqlite::params![tenant, kind, prefix], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
