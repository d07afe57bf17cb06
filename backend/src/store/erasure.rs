//! The port for erasing one client (ADR 0016): the clinic's erasure ledger, and the deletion of
//! every stored row of the client. Photo blobs are deleted through
//! [`BlobStore::erase_object`](super::BlobStore::erase_object).

use async_trait::async_trait;
use ward_proto::erasure::Erasure;
use ward_proto::{ObjectId, TenantId, VersionId};

use super::StoreResult;

/// One stored version of the client, as the erasure needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRef {
    /// Object.
    pub object: ObjectId,
    /// Version.
    pub version: VersionId,
    /// Change-feed position.
    pub seq: u64,
    /// Whether its envelope is a blob (photo content, thumbnails), not inline.
    pub blob: bool,
    /// When the server received it (the retention hold counts from the newest).
    pub created_at_ms: i64,
}

/// How many rows a purge deleted, by what they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Object versions (feed rows).
    pub versions: u64,
    /// Client-key generations.
    pub keys: u64,
}

/// The erasure ledger and the purge of one client's rows.
#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Creates or replaces the ledger entry of `erasure.client_id`.
    async fn put_erasure(&self, tenant: TenantId, erasure: &Erasure) -> StoreResult<()>;
    /// The tenant's whole ledger, by client id.
    async fn erasures(&self, tenant: TenantId) -> StoreResult<Vec<Erasure>>;
    /// Every stored version whose client is `client` (the client record itself included), in
    /// feed order. Reads the tenant's feed once: erasure is rare, and a per-client index would
    /// cost every push a write.
    async fn client_versions(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<VersionRef>>;
    /// Deletes every row of `client` but the ledger and the audit log: `versions` (their feed
    /// rows last, so that a purge that stops half-way is found again and finished by a retry),
    /// their upload state, its quarantined versions, its key generations, its care team (both
    /// directions) and its break-glass grants. Deleted bytes do not linger where the adapter can
    /// prevent it (the embedded store deletes with `secure_delete` and truncates its WAL).
    async fn purge_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
        versions: &[VersionRef],
    ) -> StoreResult<Purged>;
}
