//! The port for per-client keys (ADR 0015): each generation of a client's key, sealed under the
//! tenant's client-wrapping key, written once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ward_proto::{ObjectId, TenantId};

use super::StoreResult;

/// One generation of a client's key as stored: sealed (AES-256-GCM) under the tenant's
/// client-wrapping key, bound to tenant, client and generation. Never stored in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedClientKey {
    /// The client.
    pub client: ObjectId,
    /// The generation (1 = first; a new one on every care-team removal).
    pub generation: u32,
    /// `nonce (12) ‖ ciphertext ‖ tag` under the client-wrapping key.
    pub sealed: Vec<u8>,
    /// When created.
    pub created_at_ms: i64,
}

/// Per-client keys of a tenant.
#[async_trait]
pub trait ClientKeyStore: Send + Sync {
    /// Stores a generation once: `Conflict` if that client already has that generation.
    async fn put_client_key(&self, tenant: TenantId, key: &WrappedClientKey) -> StoreResult<()>;
    /// Every generation of every client of the tenant, by client then generation.
    async fn client_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedClientKey>>;
    /// Every generation of one client, oldest first.
    async fn keys_of_client(
        &self,
        tenant: TenantId,
        client: ObjectId,
    ) -> StoreResult<Vec<WrappedClientKey>>;
}
