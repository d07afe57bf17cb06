//! Reading a tenant out of a store in archive order, into a [`Sink`]: the export writes what it
//! reads to the archive, [`inventory`] only hashes it.

use ward_proto::TenantId;

use super::erased::ErasedFilter;
use super::manifest::InventoryBuilder;
use super::record::Record;
use super::{BATCH, BackupError, BackupResult, Inventory};
use crate::model::{Tenant, WrappedTenantKey};
use crate::store::{AuditQuery, BlobKey, Stores};

/// Receives a tenant's records in archive order.
pub(super) trait Sink {
    /// A record and its data part.
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()>;
    /// The tenant record and its wipe seed in clear (the sink seals or checks it).
    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()>;
    /// A tenant-key epoch in clear.
    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()>;
}

/// Reads everything of `tenant` from `stores` in archive order into `sink`.
pub(super) async fn walk<S: Sink>(
    stores: &Stores,
    tenant: TenantId,
    sink: &mut S,
) -> BackupResult<()> {
    let t = stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or(BackupError::NoSuchTenant(tenant))?;
    let seed = match &t.wipe_key {
        Some(w) => Some(
            stores
                .keys
                .unwrap_tenant_key(tenant, &t.key_ref, w.purpose(), &w.wrapped_seed)
                .await?,
        ),
        None => None,
    };
    sink.tenant(&t, seed.as_deref().map(|s| &s[..]))?;
    drop(seed);
    for k in stores.tenants.tenant_keys(tenant).await? {
        let plain = stores
            .keys
            .unwrap_tenant_key(tenant, &t.key_ref, k.purpose(), &k.wrapped)
            .await?;
        sink.key(&k, &plain)?;
    }
    // The ledger before everything it leaves out (an erasure still `Started` has rows left).
    let mut filter = ErasedFilter::default();
    let mut emit = |sink: &mut S, rec: Record| -> BackupResult<()> {
        if filter.keeps(&rec) {
            sink.record(&rec, &[])?;
        }
        Ok(())
    };
    for erasure in stores.erasures.erasures(tenant).await? {
        emit(sink, Record::Erasure { erasure })?;
    }
    for key in stores.client_keys.client_keys(tenant).await? {
        emit(sink, Record::ClientKey { key })?;
    }
    let users = stores.identity.list_users(tenant).await?;
    for user in &users {
        sink.record(&Record::User { user: user.clone() }, &[])?;
    }
    for user in &users {
        for credential in stores.identity.credentials(tenant, user.user_id).await? {
            sink.record(&Record::Credential { credential }, &[])?;
        }
    }
    let devices = stores.devices.list_devices(tenant).await?;
    for device in &devices {
        sink.record(
            &Record::Device {
                device: device.clone(),
            },
            &[],
        )?;
    }
    for (client, user) in stores.identity.list_care_teams(tenant).await? {
        emit(sink, Record::CareTeam { client, user })?;
    }
    let mut after = 0;
    loop {
        let page = stores.objects.changes(tenant, after, BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for mut o in page {
            let envelope = o.envelope.take();
            let inline = envelope.is_some();
            let rec = Record::Object {
                object: o.clone(),
                inline,
            };
            if !filter.keeps(&rec) {
                continue;
            }
            sink.record(&rec, envelope.as_deref().unwrap_or_default())?;
            if inline {
                continue;
            }
            if let Some(upload) = stores
                .objects
                .get_upload(tenant, o.object_id, o.version_id)
                .await?
                .filter(|u| u.completed)
            {
                sink.record(&Record::Upload { upload }, &[])?;
            }
            let key = BlobKey {
                object: o.object_id,
                version: o.version_id,
            };
            if let Some(bytes) = stores.blobs.get_blob(tenant, key).await? {
                sink.record(
                    &Record::Blob {
                        object: o.object_id,
                        version: o.version_id,
                    },
                    &bytes,
                )?;
            }
        }
    }
    for item in stores.lifecycle.list_quarantine(tenant).await? {
        let rec = Record::Quarantine { item };
        if filter.keeps(&rec) {
            sink.record(&rec, &[])?;
        }
    }
    let mut q = AuditQuery {
        limit: BATCH,
        oldest_first: true,
        ..Default::default()
    };
    loop {
        let page = stores.audit.query(tenant, &q).await?;
        for (_, entry) in page.entries {
            sink.record(&Record::Audit { entry }, &[])?;
        }
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    for device in &devices {
        for link in stores
            .audit
            .chain_links(tenant, device.device_id, 0, u64::MAX)
            .await?
        {
            sink.record(
                &Record::ChainLink {
                    device: device.device_id,
                    link,
                },
                &[],
            )?;
        }
    }
    Ok(())
}

impl Sink for InventoryBuilder {
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        InventoryBuilder::record(self, rec, data)
    }
    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()> {
        InventoryBuilder::tenant(self, tenant);
        if let Some(s) = wipe_seed {
            self.wipe_seed(s);
        }
        Ok(())
    }
    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()> {
        InventoryBuilder::key(self, key.epoch, plain);
        Ok(())
    }
}

/// Reads a tenant's [`Inventory`] from a store (every envelope and blob hashed, every key
/// unwrapped by the store's own KEK and checked).
pub async fn inventory(stores: &Stores, tenant: TenantId) -> BackupResult<Inventory> {
    let mut b = InventoryBuilder::default();
    walk(stores, tenant, &mut b).await?;
    b.finish()
}
