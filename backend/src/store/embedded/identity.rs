//! `IdentityStore` on the embedded adapter: users, passkeys, invites, ceremonies and care-team
//! memberships are `records` rows. Invites and ceremonies carry an expiry and are consumed with
//! one `DELETE … RETURNING`, so exactly one caller gets each.

use async_trait::async_trait;
use ward_proto::{ObjectId, TenantId};

use super::{Embedded, json, parse, rec_get, rec_list, rec_put, rec_take, t};
use crate::error::StoreError;
use crate::model::{Ceremony, Credential, Invite, User};
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
        keys.iter()
            .map(|k| {
                let bad = || StoreError::Backend(format!("bad care team key {k:?}"));
                let (client, user) = k.split_once('#').ok_or_else(bad)?;
                Ok((
                    client.parse().map_err(|_| bad())?,
                    user.parse().map_err(|_| bad())?,
                ))
            })
            .collect()
    }
}
