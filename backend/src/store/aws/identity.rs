//! `IdentityStore` on DynamoDB: users (`T#<t>#USER`/`<user>`), passkeys
//! (`T#<t>#CRED`/`<user>#<credential>`, listed per user by sort-key prefix), care teams
//! (`T#<t>#CARE`/`<client>#<user>`, mirrored as `T#<t>#CASELOAD`/`<user>#<client>`),
//! break-glass grants (`T#<t>#BREAKGLASS`/`<grant id>`), and the two consume-once records, invites
//! (`T#<t>#INVITE`/`<code hash>`) and ceremonies (`T#<t>#CEREMONY`/`<id>`). Those carry `exp`
//! and `ttl`; taking one is a single `DeleteItem` with `attribute_exists` and `ALL_OLD`, so of
//! concurrent takers exactly one receives it, and an expired one is deleted but not returned
//! (TTL deletion is lazy, so expiry is always checked here too).

use async_trait::async_trait;
use ward_proto::{ObjectId, TenantId};

use super::Aws;
use super::table::{Cond, Kind, Partition, Range, Table, body, expired, set_body, set_expiry};
use crate::model::{BreakGlassGrant, Ceremony, Credential, Invite, User};
use crate::store::{IdentityStore, StoreResult};

impl Aws {
    async fn take_unexpired<T: serde::de::DeserializeOwned>(
        &self,
        p: &Partition,
        sk: &str,
        now_ms: i64,
    ) -> StoreResult<Option<T>> {
        match self.table.take(p, sk).await? {
            Some(item) if !expired(&item, now_ms)? => Ok(Some(body(&item)?)),
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl IdentityStore for Aws {
    async fn put_user(&self, tenant: TenantId, user: &User) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::User);
        let mut item = Table::item(&p, user.user_id.to_string());
        set_body(&mut item, user)?;
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn get_user(&self, tenant: TenantId, user_id: uuid::Uuid) -> StoreResult<Option<User>> {
        let p = Partition::new(tenant, Kind::User);
        let item = self.table.get(&p, &user_id.to_string()).await?;
        item.map(|i| body(&i)).transpose()
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let p = Partition::new(tenant, Kind::User);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(body).collect()
    }

    async fn put_credential(&self, tenant: TenantId, cred: &Credential) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Credential);
        let mut item = Table::item(&p, format!("{}#{}", cred.user_id, cred.credential_id));
        set_body(&mut item, cred)?;
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn credentials(
        &self,
        tenant: TenantId,
        user_id: uuid::Uuid,
    ) -> StoreResult<Vec<Credential>> {
        let p = Partition::new(tenant, Kind::Credential);
        let prefix = format!("{user_id}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        items.iter().map(body).collect()
    }

    async fn put_invite(&self, tenant: TenantId, invite: &Invite) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Invite);
        let mut item = Table::item(&p, invite.code_hash.clone());
        set_body(&mut item, invite)?;
        set_expiry(&mut item, invite.expires_at_ms);
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn get_invite(&self, tenant: TenantId, code_hash: &str) -> StoreResult<Option<Invite>> {
        let p = Partition::new(tenant, Kind::Invite);
        let item = self.table.get(&p, code_hash).await?;
        item.map(|i| body(&i)).transpose()
    }

    async fn take_invite(
        &self,
        tenant: TenantId,
        code_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Invite>> {
        let p = Partition::new(tenant, Kind::Invite);
        self.take_unexpired(&p, code_hash, now_ms).await
    }

    async fn put_ceremony(&self, tenant: TenantId, ceremony: &Ceremony) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::Ceremony);
        let mut item = Table::item(&p, ceremony.id.clone());
        set_body(&mut item, ceremony)?;
        set_expiry(&mut item, ceremony.expires_at_ms);
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn take_ceremony(
        &self,
        tenant: TenantId,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Ceremony>> {
        let p = Partition::new(tenant, Kind::Ceremony);
        self.take_unexpired(&p, id, now_ms).await
    }

    async fn add_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<()> {
        // The membership and its caseload row (`T#<t>#CASELOAD`/`<user>#<client>`, so a
        // person's clients are one query) in one transaction.
        let p = Partition::new(tenant, Kind::CareTeam);
        let cp = Partition::new(tenant, Kind::Caseload);
        self.table
            .transact(vec![
                super::table::TxWrite::Put(Table::item(&p, format!("{client}#{user}")), Cond::None),
                super::table::TxWrite::Put(
                    Table::item(&cp, format!("{user}#{client}")),
                    Cond::None,
                ),
            ])
            .await
            .map(drop)
    }

    async fn on_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool> {
        let p = Partition::new(tenant, Kind::CareTeam);
        Ok(self
            .table
            .get(&p, &format!("{client}#{user}"))
            .await?
            .is_some())
    }

    async fn list_care_teams(&self, tenant: TenantId) -> StoreResult<Vec<(ObjectId, uuid::Uuid)>> {
        let p = Partition::new(tenant, Kind::CareTeam);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(member).collect()
    }

    async fn remove_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool> {
        // The caseload row first: a failure between the two leaves a membership the next
        // removal (a retry) finds and finishes, never a caseload entry without a membership
        // being served (access is decided on the membership row).
        let cp = Partition::new(tenant, Kind::Caseload);
        self.table.take(&cp, &format!("{user}#{client}")).await?;
        let p = Partition::new(tenant, Kind::CareTeam);
        Ok(self
            .table
            .take(&p, &format!("{client}#{user}"))
            .await?
            .is_some())
    }

    async fn care_team(&self, tenant: TenantId, client: ObjectId) -> StoreResult<Vec<uuid::Uuid>> {
        let p = Partition::new(tenant, Kind::CareTeam);
        let prefix = format!("{client}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        items.iter().map(|i| member(i).map(|(_, u)| u)).collect()
    }

    async fn caseload(&self, tenant: TenantId, user: uuid::Uuid) -> StoreResult<Vec<ObjectId>> {
        let p = Partition::new(tenant, Kind::Caseload);
        let prefix = format!("{user}#");
        let items = self
            .table
            .query(&p, Range::Prefix(&prefix), true, None)
            .await?;
        items
            .iter()
            .map(|item| {
                let k = super::table::get_s(item, super::table::SK)?;
                let bad = || crate::error::StoreError::Backend(format!("bad caseload key {k:?}"));
                let (_, client) = k.split_once('#').ok_or_else(bad)?;
                client.parse().map_err(|_| bad())
            })
            .collect()
    }

    async fn put_break_glass(&self, tenant: TenantId, grant: &BreakGlassGrant) -> StoreResult<()> {
        let p = Partition::new(tenant, Kind::BreakGlass);
        let mut item = Table::item(&p, grant.grant_id.clone());
        set_body(&mut item, grant)?;
        self.table.put(item, Cond::None).await.map(drop)
    }

    async fn list_break_glass(&self, tenant: TenantId) -> StoreResult<Vec<BreakGlassGrant>> {
        let p = Partition::new(tenant, Kind::BreakGlass);
        let items = self.table.query(&p, Range::All, true, None).await?;
        items.iter().map(body).collect()
    }
}

/// A care-team item's `(client, user)` from its sort key `<client>#<user>`.
fn member(item: &super::table::Item) -> StoreResult<(ObjectId, uuid::Uuid)> {
    let k = super::table::get_s(item, super::table::SK)?;
    let bad = || crate::error::StoreError::Backend(format!("bad care team key {k:?}"));
    let (client, user) = k.split_once('#').ok_or_else(bad)?;
    Ok((
        client.parse().map_err(|_| bad())?,
        user.parse().map_err(|_| bad())?,
    ))
}
