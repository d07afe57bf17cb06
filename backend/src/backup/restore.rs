//! [`restore`]: an archive into a store that does not hold its tenant, after
//! [`check_archive`] has authenticated all of it.

use std::io::{Read, Seek, SeekFrom};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use ward_proto::{DeviceId, TenantId};

use std::collections::BTreeMap;

use ward_proto::ObjectId;
use ward_proto::erasure::Erasure;

use super::archive::{self, ArchiveReader};
use super::erased::{ErasedFilter, merge};
use super::export::now_ms;
use super::manifest::InventoryBuilder;
use super::record::Record;
use super::sealing::open_sealed;
use super::{
    ArchiveKey, BATCH, BackupError, BackupResult, Header, Inventory, Manifest, RESTORE_ACTION,
    Report, compare, inventory,
};
use crate::model::{
    AuditEntry, AuditRecord, ChainLink, QuarantineItem, QuarantineStatus, StoredObject,
    WrappedTenantKey,
};
use crate::store::{BlobKey, ChainEntry, KeyPurpose, PutOutcome, Stores};

/// Reads and checks a whole archive without writing anything: every frame authenticated,
/// every record parsed, the content hash and the inventory equal to the manifest's.
pub fn check_archive<R: Read>(reader: R, key: &ArchiveKey) -> BackupResult<(Header, Manifest)> {
    let checked = check_filtered(reader, key, &[])?;
    Ok((checked.header, checked.manifest))
}

/// The erasure ledger an archive carries (after checking all of it like [`check_archive`]):
/// what `ward-server backup restore --erasures-from` re-applies to an older archive.
pub fn archive_ledger<R: Read>(reader: R, key: &ArchiveKey) -> BackupResult<Vec<Erasure>> {
    Ok(check_filtered(reader, key, &[])?
        .ledger
        .into_values()
        .collect())
}

/// What [`check_filtered`] found.
struct Checked {
    header: Header,
    manifest: Manifest,
    /// The archive's ledger merged with the later one: what the target gets.
    ledger: BTreeMap<ObjectId, Erasure>,
    /// The manifest's inventory without the erased clients' records: what the target must
    /// hold after the restore.
    expected: Inventory,
    /// Records of erased clients the restore leaves out.
    left_out: u64,
}

/// [`check_archive`], also computing what a restore that re-applies the archive's ledger and
/// `later` (entries from newer ledgers) writes.
fn check_filtered<R: Read>(
    reader: R,
    key: &ArchiveKey,
    later: &[Erasure],
) -> BackupResult<Checked> {
    let mut r = ArchiveReader::open(reader, key)?;
    let header = r.header;
    let mut content = Context::new(&SHA256);
    let mut inv = InventoryBuilder::default();
    let mut expected = InventoryBuilder::default();
    let mut filter = ErasedFilter::new(later.iter().map(|e| e.client_id));
    let mut ours = Vec::new();
    let mut manifest = None;
    while let Some((meta, data)) = r.next_record()? {
        let rec: Record = serde_json::from_slice(&meta)?;
        if manifest.is_some() {
            return Err(BackupError::Malformed("records after the manifest".into()));
        }
        match &rec {
            Record::Manifest { manifest: m } => {
                manifest = Some(m.clone());
                continue;
            }
            Record::Tenant { tenant } => {
                if tenant.id != header.tenant {
                    return Err(BackupError::Malformed(
                        "tenant record does not match the header".into(),
                    ));
                }
                if !data.is_empty() {
                    let seed = open_sealed(&r, header.tenant, "wipe seed", &data)?;
                    inv.wipe_seed(&seed);
                }
            }
            Record::TenantKey { epoch, .. } => {
                let plain = open_sealed(
                    &r,
                    header.tenant,
                    &format!("tenant key epoch={epoch}"),
                    &data,
                )?;
                inv.key(*epoch, &plain);
                expected.key(*epoch, &plain);
            }
            Record::Erasure { erasure } => ours.push(erasure.clone()),
            _ => {}
        }
        content.update(&archive::record_head(&meta, &data)?);
        content.update(&data);
        inv.record(&rec, &data)?;
        if let Record::Tenant { .. } = &rec
            && !data.is_empty()
        {
            let seed = open_sealed(&r, header.tenant, "wipe seed", &data)?;
            expected.wipe_seed(&seed);
        }
        // The ledger goes in whole below; everything else only if it is not an erased client's.
        if filter.keeps(&rec) && !matches!(rec, Record::Erasure { .. }) {
            expected.record(&rec, &data)?;
        }
    }
    let ledger = merge(ours, later);
    for erasure in ledger.values() {
        expected.record(
            &Record::Erasure {
                erasure: erasure.clone(),
            },
            &[],
        )?;
    }
    let manifest = manifest.ok_or_else(|| BackupError::Malformed("no manifest".into()))?;
    if manifest.tenant != header.tenant || manifest.archive_id != hex::encode(header.archive_id) {
        return Err(BackupError::Manifest(
            "manifest names another archive".into(),
        ));
    }
    if manifest.content_sha256 != hex::encode(content.finish()) {
        return Err(BackupError::Manifest("content hash differs".into()));
    }
    if manifest.inventory != inv.finish()? {
        return Err(BackupError::Manifest("inventory differs".into()));
    }
    Ok(Checked {
        header,
        manifest: *manifest,
        ledger,
        expected: expected.finish()?,
        left_out: filter.left_out,
    })
}

/// What [`restore`] did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Archive id (hex).
    pub archive_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// When the archive was written.
    pub exported_at_ms: i64,
    /// Clients in the erasure ledger written to the target (the archive's and any later
    /// ledger's): nothing of them was restored.
    pub erased_clients: usize,
    /// Records of those clients in the archive that were left out.
    pub erased_records_left_out: u64,
    /// The restored tenant read back from the target store, compared with the manifest (less
    /// what the ledger erased).
    pub report: Report,
}

/// Whether the target already has anything of `tenant`.
async fn target_has(stores: &Stores, tenant: TenantId) -> BackupResult<bool> {
    Ok(stores.tenants.get_tenant(tenant).await?.is_some()
        || !stores.tenants.tenant_keys(tenant).await?.is_empty()
        || !stores.identity.list_users(tenant).await?.is_empty()
        || !stores.devices.list_devices(tenant).await?.is_empty()
        || !stores.objects.changes(tenant, 0, 1).await?.is_empty())
}

/// Writes records into the target store.
struct Restorer<'a> {
    stores: &'a Stores,
    tenant: TenantId,
    key_ref: String,
    objects: Vec<StoredObject>,
    audit: Vec<AuditEntry>,
    chain: Vec<(DeviceId, ChainLink)>,
    filter: ErasedFilter,
}

impl Restorer<'_> {
    async fn flush_objects(&mut self) -> BackupResult<()> {
        if self.objects.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.objects);
        let out = self.stores.objects.put_objects(self.tenant, &batch).await?;
        if out.len() != batch.len() || out.iter().any(|o| !matches!(o, PutOutcome::Created { .. }))
        {
            return Err(BackupError::TargetNotEmpty(self.tenant));
        }
        Ok(())
    }

    async fn flush_audit(&mut self) -> BackupResult<()> {
        let batch = std::mem::take(&mut self.audit);
        self.stores
            .audit
            .append_entries(self.tenant, &batch)
            .await?;
        Ok(())
    }

    async fn flush_chain(&mut self) -> BackupResult<()> {
        let links = std::mem::take(&mut self.chain);
        let mut i = 0;
        while i < links.len() {
            let device = links[i].0;
            let group: Vec<ChainEntry> = links[i..]
                .iter()
                .take_while(|(d, _)| *d == device)
                .map(|(_, link)| ChainEntry {
                    link: link.clone(),
                    entries: Vec::new(),
                })
                .collect();
            let stored = self
                .stores
                .audit
                .append_chain(self.tenant, device, &group)
                .await?;
            if stored != group.len() {
                return Err(BackupError::TargetNotEmpty(self.tenant));
            }
            i += group.len();
        }
        Ok(())
    }

    async fn apply<R: Read>(
        &mut self,
        r: &ArchiveReader<R>,
        rec: Record,
        data: Vec<u8>,
    ) -> BackupResult<()> {
        let (s, t) = (self.stores, self.tenant);
        if !matches!(rec, Record::Object { .. }) {
            self.flush_objects().await?;
        }
        if !self.filter.keeps(&rec) {
            return Ok(());
        }
        match rec {
            // The merged ledger is written at the end.
            Record::Erasure { .. } => {}
            Record::Tenant { mut tenant } => {
                self.key_ref = s.keys.create_tenant_kek(t).await?;
                tenant.key_ref = self.key_ref.clone();
                if let Some(w) = tenant.wipe_key.as_mut() {
                    let seed = open_sealed(r, t, "wipe seed", &data)?;
                    // Re-wrapped under the purpose-bound context (a restore upgrades older
                    // tenants' keys).
                    w.wrapped_seed = s
                        .keys
                        .wrap_tenant_key(t, &self.key_ref, KeyPurpose::WipeSeed, &seed)
                        .await?;
                    w.purpose_bound = true;
                }
                s.tenants.create_tenant(&tenant).await?;
            }
            Record::TenantKey {
                epoch,
                created_at_ms,
            } => {
                let plain = open_sealed(r, t, &format!("tenant key epoch={epoch}"), &data)?;
                let mut key = WrappedTenantKey {
                    epoch,
                    wrapped: Vec::new(),
                    created_at_ms,
                    purpose_bound: true,
                };
                // The purpose follows the epoch (epoch 0 is the client-wrapping key).
                key.wrapped = s
                    .keys
                    .wrap_tenant_key(t, &self.key_ref, key.purpose(), &plain)
                    .await?;
                s.tenants.put_tenant_key(t, &key).await?;
            }
            // Sealed under the client-wrapping key, restored above with the same plaintext.
            Record::ClientKey { key } => s.client_keys.put_client_key(t, &key).await?,
            Record::User { user } => s.identity.put_user(t, &user).await?,
            Record::Credential { credential } => s.identity.put_credential(t, &credential).await?,
            Record::Device { device } => s.devices.create_device(t, &device).await?,
            Record::CareTeam { client, user } => s.identity.add_care_team(t, client, user).await?,
            Record::Object { mut object, inline } => {
                object.envelope = inline.then_some(data);
                self.objects.push(object);
                if self.objects.len() >= BATCH as usize {
                    self.flush_objects().await?;
                }
            }
            Record::Upload { upload } => s.objects.put_upload(t, &upload).await?,
            Record::Blob { object, version } => {
                s.blobs
                    .put_blob(t, BlobKey { object, version }, &data)
                    .await?
            }
            Record::Quarantine { item } => {
                let decided = (item.status != QuarantineStatus::Pending)
                    .then_some((item.status, item.decided_at_ms));
                let pending = QuarantineItem {
                    status: QuarantineStatus::Pending,
                    decided_at_ms: None,
                    ..item.clone()
                };
                if !s.lifecycle.put_quarantine(t, &pending).await? {
                    return Err(BackupError::TargetNotEmpty(t));
                }
                if let Some((to, at)) = decided {
                    s.lifecycle
                        .decide_quarantine(
                            t,
                            item.version_id,
                            to,
                            at.unwrap_or(item.received_at_ms),
                        )
                        .await?;
                }
            }
            Record::Audit { entry } => {
                self.audit.push(entry);
                if self.audit.len() >= BATCH as usize {
                    self.flush_audit().await?;
                }
            }
            Record::ChainLink { device, link } => {
                self.flush_audit().await?;
                self.chain.push((device, link));
            }
            Record::Manifest { .. } => {
                self.flush_audit().await?;
                self.flush_chain().await?;
            }
        }
        Ok(())
    }
}

/// Restores an archive into `stores`, which must not hold its tenant. The archive is read
/// twice: [`check_archive`] first (nothing is written unless every frame authenticates and the
/// content matches its manifest), then the records are written and the tenant is read back
/// and compared with the manifest. Records a `backup.restore` audit entry at the end.
pub async fn restore<R: Read + Seek + Send>(
    stores: &Stores,
    key: &ArchiveKey,
    reader: R,
) -> BackupResult<RestoreReport> {
    restore_erasing(stores, key, reader, &[]).await
}

/// [`restore`], re-applying besides the archive's own erasure ledger the entries of `later`
/// (the ledger of a newer archive, [`archive_ledger`]): an archive made before an erasure
/// yields nothing of the erased client, and the target keeps the whole ledger, so devices
/// that still hold the client delete it at their next contact.
pub async fn restore_erasing<R: Read + Seek + Send>(
    stores: &Stores,
    key: &ArchiveKey,
    mut reader: R,
    later: &[Erasure],
) -> BackupResult<RestoreReport> {
    let start = reader.stream_position()?;
    let checked = check_filtered(&mut reader, key, later)?;
    let (header, manifest) = (checked.header, checked.manifest);
    let tenant = header.tenant;
    if target_has(stores, tenant).await? {
        return Err(BackupError::TargetNotEmpty(tenant));
    }
    reader.seek(SeekFrom::Start(start))?;
    let mut r = ArchiveReader::open(&mut reader, key)?;
    let mut w = Restorer {
        stores,
        tenant,
        key_ref: String::new(),
        objects: Vec::new(),
        audit: Vec::new(),
        chain: Vec::new(),
        filter: ErasedFilter::new(later.iter().map(|e| e.client_id)),
    };
    while let Some((meta, data)) = r.next_record()? {
        let rec: Record = serde_json::from_slice(&meta)?;
        w.apply(&r, rec, data).await?;
    }
    for erasure in checked.ledger.values() {
        stores.erasures.put_erasure(tenant, erasure).await?;
    }
    let restored = inventory(stores, tenant).await?;
    let report = compare(&checked.expected, &restored);
    stores
        .audit
        .append(
            tenant,
            &AuditRecord {
                at_ms: now_ms(),
                actor: "operator".into(),
                device_id: None,
                action: RESTORE_ACTION.into(),
                target: Some(manifest.archive_id.clone()),
            },
        )
        .await?;
    Ok(RestoreReport {
        archive_id: manifest.archive_id,
        tenant,
        exported_at_ms: header.created_at_ms,
        erased_clients: checked.ledger.len(),
        erased_records_left_out: checked.left_out,
        report,
    })
}
