//! [`drill`]: the restore drill, an export restored into a new embedded store and compared.

use serde::{Deserialize, Serialize};
use ward_proto::TenantId;

use super::{ArchiveKey, BackupResult, Report, export, restore};
use crate::store::Stores;

/// The result of [`drill`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReport {
    /// The restored tenant matches the archive's manifest.
    pub ok: bool,
    /// The tenant.
    pub tenant: TenantId,
    /// Archive id (hex).
    pub archive_id: String,
    /// Archive size in bytes.
    pub archive_bytes: u64,
    /// Export time.
    pub export_ms: u64,
    /// Restore time (check, write, read back, compare).
    pub restore_ms: u64,
    /// Where it was restored to.
    pub restored_into: String,
    /// Restored tenant against the manifest.
    pub report: Report,
}

/// The restore drill: exports `tenant` from `source` to an archive in `work` under a fresh
/// archive key (kept in memory only), restores it into a new embedded store in `work`, and
/// compares the restored tenant with the manifest. `work` should be empty and private; the
/// caller removes it.
pub async fn drill(
    source: &Stores,
    tenant: TenantId,
    work: &std::path::Path,
) -> BackupResult<DrillReport> {
    let key = ArchiveKey::generate()?;
    let path = work.join("tenant.wardbak");
    let started = std::time::Instant::now();
    let file = std::fs::File::create(&path)?;
    let exported = export(source, tenant, &key, std::io::BufWriter::new(file)).await?;
    let export_ms = started.elapsed().as_millis() as u64;
    let started = std::time::Instant::now();
    let target_dir = work.join("restored");
    let (target, _) = Stores::embedded(&target_dir, "http://localhost")?;
    let file = std::fs::File::open(&path)?;
    let restored = restore(&target, &key, std::io::BufReader::new(file)).await?;
    let restore_ms = started.elapsed().as_millis() as u64;
    Ok(DrillReport {
        ok: restored.report.ok,
        tenant,
        archive_id: exported.archive_id,
        archive_bytes: exported.archive_bytes,
        export_ms,
        restore_ms,
        restored_into: format!("a new embedded store in {}", target_dir.display()),
        report: restored.report,
    })
}
