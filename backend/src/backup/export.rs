//! [`export`]: a tenant into an archive sealed under the operator's archive key.

use std::io::Write;

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use ward_proto::TenantId;

use super::archive::{self, ArchiveWriter};
use super::manifest::InventoryBuilder;
use super::record::Record;
use super::sealing::key_context;
use super::walk::{Sink, walk};
use super::{ArchiveKey, BackupError, BackupResult, EXPORT_ACTION, Header, Manifest};
use crate::model::{AuditRecord, Tenant, WrappedTenantKey};
use crate::store::Stores;

/// Writes records into the archive while building the manifest.
struct ExportSink<W: Write> {
    out: ArchiveWriter<W>,
    tenant: TenantId,
    content: Context,
    inv: InventoryBuilder,
}

impl<W: Write> ExportSink<W> {
    fn write(&mut self, rec: &Record, data: &[u8], hash: bool) -> BackupResult<()> {
        let meta = serde_json::to_vec(rec)?;
        let head = archive::record_head(&meta, data)?;
        if hash {
            self.content.update(&head);
            self.content.update(data);
        }
        self.out.write_all(&head)?;
        self.out.write_all(data)
    }

    fn seal(&self, what: &str, plain: &[u8]) -> BackupResult<Vec<u8>> {
        self.out
            .keys()
            .records
            .seal_small(&key_context(self.tenant, what), plain)
            .map_err(|_| BackupError::Crypto)
    }
}

impl<W: Write> Sink for ExportSink<W> {
    fn record(&mut self, rec: &Record, data: &[u8]) -> BackupResult<()> {
        self.inv.record(rec, data)?;
        self.write(rec, data, true)
    }

    fn tenant(&mut self, tenant: &Tenant, wipe_seed: Option<&[u8]>) -> BackupResult<()> {
        let mut t = tenant.clone();
        t.key_ref = String::new();
        if let Some(w) = t.wipe_key.as_mut() {
            w.wrapped_seed = Vec::new();
        }
        let sealed = match wipe_seed {
            Some(s) => {
                self.inv.wipe_seed(s);
                self.seal("wipe seed", s)?
            }
            None => Vec::new(),
        };
        let rec = Record::Tenant { tenant: t };
        self.inv.record(&rec, &[])?;
        self.write(&rec, &sealed, true)
    }

    fn key(&mut self, key: &WrappedTenantKey, plain: &[u8]) -> BackupResult<()> {
        self.inv.key(key.epoch, plain);
        let sealed = self.seal(&format!("tenant key epoch={}", key.epoch), plain)?;
        let rec = Record::TenantKey {
            epoch: key.epoch,
            created_at_ms: key.created_at_ms,
        };
        self.write(&rec, &sealed, true)
    }
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportReport {
    /// Archive id (hex).
    pub archive_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// Archive size in bytes.
    pub archive_bytes: u64,
    /// The archive's manifest.
    pub manifest: Manifest,
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Exports `tenant` from `stores` into an archive sealed under `key`, written to `writer`.
/// Records a `backup.export` audit entry first (so the archive holds the record of its own
/// export). Data written while the export runs may or may not be in the archive; the
/// manifest describes exactly what is.
pub async fn export<W: Write + Send>(
    stores: &Stores,
    tenant: TenantId,
    key: &ArchiveKey,
    writer: W,
) -> BackupResult<ExportReport> {
    if stores.tenants.get_tenant(tenant).await?.is_none() {
        return Err(BackupError::NoSuchTenant(tenant));
    }
    let mut archive_id = [0u8; 16];
    ward_proto::keys::fill_random(&mut archive_id).map_err(|_| BackupError::Crypto)?;
    let created_at_ms = now_ms();
    stores
        .audit
        .append(
            tenant,
            &AuditRecord {
                at_ms: created_at_ms,
                actor: "operator".into(),
                device_id: None,
                action: EXPORT_ACTION.into(),
                target: Some(hex::encode(archive_id)),
            },
        )
        .await?;
    let header = Header {
        archive_id,
        tenant,
        created_at_ms,
    };
    let mut sink = ExportSink {
        out: ArchiveWriter::new(writer, key, header)?,
        tenant,
        content: Context::new(&SHA256),
        inv: InventoryBuilder::default(),
    };
    walk(stores, tenant, &mut sink).await?;
    let ExportSink {
        out,
        content,
        inv,
        tenant: _,
    } = sink;
    let manifest = Manifest {
        format: 1,
        tenant,
        archive_id: hex::encode(archive_id),
        created_at_ms,
        content_sha256: hex::encode(content.finish()),
        inventory: inv.finish()?,
    };
    let mut out = out;
    let rec = Record::Manifest {
        manifest: Box::new(manifest.clone()),
    };
    let meta = serde_json::to_vec(&rec)?;
    out.write_all(&archive::record_head(&meta, &[])?)?;
    let archive_bytes = out.finish()?;
    Ok(ExportReport {
        archive_id: hex::encode(archive_id),
        tenant,
        archive_bytes,
        manifest,
    })
}
