//! Tenant keys and the wipe seed inside an archive: sealed under the archive's record key with
//! the tenant and the item named in the context, so a sealed key cannot be moved to another
//! tenant or epoch.

use std::io::Read;

use ward_proto::TenantId;
use zeroize::Zeroizing;

use super::archive::ArchiveReader;
use super::{BackupError, BackupResult};

pub(super) fn key_context(tenant: TenantId, what: &str) -> Vec<u8> {
    format!("ward backup v1 tenant={tenant} {what}").into_bytes()
}

pub(super) fn open_sealed<R: Read>(
    r: &ArchiveReader<R>,
    tenant: TenantId,
    what: &str,
    sealed: &[u8],
) -> BackupResult<Zeroizing<Vec<u8>>> {
    r.keys()
        .records
        .open_small(&key_context(tenant, what), sealed)
        .map_err(|_| BackupError::Malformed(format!("{what} does not open")))
}
