//! `KeyVault` on KMS: one symmetric KMS key per tenant (`CreateKey`, tagged `ward:tenant=<id>`),
//! under which each tenant-key epoch is a data key (`GenerateDataKey`, AES-256) bound to the
//! encryption context `{"tenant": "<id>", "purpose": "tenant-key", "epoch": "<n>"}` (wipe-signing
//! seeds: `"purpose": "wipe-seed"`; keys wrapped before purposes existed: `{"tenant"}` only); unwrapping is `Decrypt` with the same context and
//! the tenant's key id, so a wrapped key presented under another tenant fails. Scheduling the
//! tenant's KMS key for deletion ([`Aws::shred_tenant`]) crypto-shreds every envelope of that
//! tenant, in DynamoDB, S3 and on phones alike.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use ward_proto::TenantId;
use zeroize::Zeroizing;

use super::Aws;
use super::table::sdk_err;
use crate::error::StoreError;
use crate::store::{KeyPurpose, KeyVault, StoreResult};

/// Tag naming the tenant a KMS key belongs to.
pub const TENANT_TAG: &str = "ward:tenant";
/// Encryption-context key binding a wrapped tenant key to its tenant.
const CONTEXT_KEY: &str = "tenant";
/// The full encryption context of a wrapped key: the tenant, and its purpose (and epoch).
fn context(tenant: TenantId, purpose: KeyPurpose) -> std::collections::HashMap<String, String> {
    let mut c: std::collections::HashMap<String, String> = purpose
        .context()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    c.insert(CONTEXT_KEY.into(), tenant.to_string());
    c
}

/// Days KMS waits before deleting a scheduled key (the minimum KMS allows).
const DELETION_WINDOW_DAYS: i32 = 7;

impl Aws {
    /// Crypto-shreds a tenant: disables its KMS key at once (no decrypt succeeds from then on)
    /// and schedules its deletion after KMS's minimum 7-day window (cancellable until then).
    pub async fn shred_tenant(&self, key_ref: &str) -> StoreResult<()> {
        self.kms
            .disable_key()
            .key_id(key_ref)
            .send()
            .await
            .map_err(|e| sdk_err("DisableKey", e))?;
        self.kms
            .schedule_key_deletion()
            .key_id(key_ref)
            .pending_window_in_days(DELETION_WINDOW_DAYS)
            .send()
            .await
            .map_err(|e| sdk_err("ScheduleKeyDeletion", e))?;
        Ok(())
    }
}

#[async_trait]
impl KeyVault for Aws {
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String> {
        let tag = Tag::builder()
            .tag_key(TENANT_TAG)
            .tag_value(tenant.to_string())
            .build()
            .map_err(|e| sdk_err("CreateKey", e))?;
        let out = self
            .kms
            .create_key()
            .description(format!("Ward tenant {tenant}: wraps its tenant keys"))
            .tags(tag)
            .send()
            .await
            .map_err(|e| sdk_err("CreateKey", e))?;
        out.key_metadata
            .map(|m| m.key_id)
            .ok_or_else(|| StoreError::Backend("CreateKey returned no key id".into()))
    }

    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)> {
        let out = self
            .kms
            .generate_data_key()
            .key_id(key_ref)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context(tenant, purpose)))
            .send()
            .await
            .map_err(|e| sdk_err("GenerateDataKey", e))?;
        let plain = out
            .plaintext
            .map(|b| Zeroizing::new(b.into_inner()))
            .ok_or_else(|| StoreError::Backend("GenerateDataKey returned no plaintext".into()))?;
        let wrapped = out
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| StoreError::Backend("GenerateDataKey returned no ciphertext".into()))?;
        Ok((plain, wrapped))
    }

    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let out = self
            .kms
            .decrypt()
            .key_id(key_ref)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(context(tenant, purpose)))
            .send()
            .await
            .map_err(|e| sdk_err("Decrypt: tenant key failed to unwrap", e))?;
        out.plaintext
            .map(|b| Zeroizing::new(b.into_inner()))
            .ok_or_else(|| StoreError::Backend("Decrypt returned no plaintext".into()))
    }

    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let out = self
            .kms
            .encrypt()
            .key_id(key_ref)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(Some(context(tenant, purpose)))
            .send()
            .await
            .map_err(|e| sdk_err("Encrypt: tenant key failed to wrap", e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| StoreError::Backend("Encrypt returned no ciphertext".into()))
    }

    async fn shred_tenant_kek(&self, _tenant: TenantId, key_ref: &str) -> StoreResult<()> {
        self.shred_tenant(key_ref).await
    }
}
