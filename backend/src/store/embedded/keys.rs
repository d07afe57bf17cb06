//! `KeyVault` on the embedded adapter: the local master key seals one random KEK per tenant
//! (a `kek` record), and each tenant key is sealed under its tenant's KEK with the tenant as
//! context. Deleting the KEK record crypto-shreds the tenant.

use async_trait::async_trait;
use ward_proto::{SymmetricKey, TenantId};
use zeroize::Zeroizing;

use super::{Embedded, rec_get, rec_insert_new, t};
use crate::error::StoreError;
use crate::store::{KeyPurpose, KeyVault, StoreResult};

fn kek_context(tenant: TenantId) -> Vec<u8> {
    let mut c = b"ward tenant kek v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c
}

fn tenant_key_context(tenant: TenantId, purpose: KeyPurpose) -> Vec<u8> {
    // The embedded analogue of the KMS encryption context {"tenant": id, "purpose", "epoch"}.
    let mut c = match purpose {
        KeyPurpose::Legacy => b"ward tenant key v1 tenant=".to_vec(),
        _ => b"ward tenant key v2 tenant=".to_vec(),
    };
    c.extend_from_slice(tenant.to_string().as_bytes());
    for (k, v) in purpose.context() {
        c.extend_from_slice(format!(" {k}={v}").as_bytes());
    }
    c
}

impl Embedded {
    async fn tenant_kek(&self, tenant: TenantId) -> StoreResult<SymmetricKey> {
        let id = t(tenant);
        let sealed = self
            .run(move |c| rec_get(c, &id, "kek", "current"))
            .await?
            .ok_or_else(|| {
                StoreError::Backend("tenant key-encryption key is gone (shredded?)".into())
            })?;
        let raw = self
            .master
            .open_small(&kek_context(tenant), &sealed)
            .map_err(|_| StoreError::Backend("tenant KEK failed to unwrap".into()))?;
        SymmetricKey::from_slice(&raw).ok_or_else(|| StoreError::Backend("bad KEK".into()))
    }

    /// Crypto-shreds a tenant: deletes its KEK, after which no wrapped tenant key (and so no
    /// envelope of that tenant, anywhere) can be opened. The row is deleted with SQLite's
    /// `secure_delete` on (its bytes are overwritten with zeros in the page, so neither the
    /// database's free pages nor a later WAL frame holds them), the tenant's wrapped keys go
    /// with it, and the WAL is checkpointed and truncated so no older frame keeps a copy.
    pub async fn shred_tenant(&self, tenant: TenantId) -> StoreResult<()> {
        let id = t(tenant);
        self.run(move |c| {
            c.pragma_update(None, "secure_delete", "ON")?;
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind IN ('kek', 'tenant_key', 'client_key')",
                [&id],
            )?;
            tx.commit()?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            c.pragma_update(None, "secure_delete", "OFF")?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl KeyVault for Embedded {
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String> {
        let kek = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
        let sealed = self
            .master
            .seal_small(&kek_context(tenant), kek.expose_secret())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let id = t(tenant);
        self.run(move |c| rec_insert_new(c, &id, "kek", "current", &sealed))
            .await?;
        Ok(format!("local:{tenant}"))
    }

    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
        purpose: KeyPurpose,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        let kek = self.tenant_kek(tenant).await?;
        let key = SymmetricKey::generate().map_err(|e| StoreError::Backend(e.to_string()))?;
        let wrapped = kek
            .seal_small(&tenant_key_context(tenant, purpose), key.expose_secret())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok((Zeroizing::new(key.expose_secret().to_vec()), wrapped))
    }

    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let kek = self.tenant_kek(tenant).await?;
        kek.open_small(&tenant_key_context(tenant, purpose), wrapped)
            .map_err(|_| StoreError::Backend("tenant key failed to unwrap".into()))
    }

    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        _key_ref: &str,
        purpose: KeyPurpose,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let kek = self.tenant_kek(tenant).await?;
        kek.seal_small(&tenant_key_context(tenant, purpose), plaintext)
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn shred_tenant_kek(&self, tenant: TenantId, _key_ref: &str) -> StoreResult<()> {
        self.shred_tenant(tenant).await
    }
}
