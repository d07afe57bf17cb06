//! Tenant creation and first-run bootstrap.
//!
//! A tenant gets its own key-encryption key (a KMS key on AWS, a key under the local master key
//! embedded) and tenant key epoch 1, generated and stored only wrapped. On first start with no
//! tenant, `ward-server` creates one and prints a one-time setup code: an admin invite whose
//! device is approved at once (someone has to be first).

use ring::rand::{SecureRandom, SystemRandom};
use ward_proto::TenantId;

use crate::domain::identity::token_hash;
use crate::error::StoreError;
use crate::model::{AuditRecord, Invite, Role, Tenant, WipeKey, WrappedTenantKey};
use crate::store::{KeyPurpose, StoreResult, Stores};
use ward_proto::wipe::WipeSigner;

/// A random, URL-safe secret (invite codes, session tokens, ceremony ids).
pub fn random_token(bytes: usize) -> StoreResult<String> {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| StoreError::Backend("rng failed".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Creates a tenant with its own KEK and tenant key epoch 1.
pub async fn create_tenant(stores: &Stores, name: &str, now_ms: i64) -> StoreResult<Tenant> {
    let id = TenantId::random();
    let key_ref = stores.keys.create_tenant_kek(id).await?;
    let wipe_key = new_wipe_key(stores, id, &key_ref).await?;
    let tenant = Tenant {
        id,
        name: name.into(),
        key_ref: key_ref.clone(),
        current_epoch: 1,
        created_at_ms: now_ms,
        wipe_key: Some(wipe_key),
        policy: Default::default(),
        offboarded_at_ms: None,
    };
    stores.tenants.create_tenant(&tenant).await?;
    let (_plain, wrapped) = stores
        .keys
        .generate_tenant_key(id, &key_ref, KeyPurpose::TenantKey { epoch: 1 })
        .await?;
    stores
        .tenants
        .put_tenant_key(
            id,
            &WrappedTenantKey {
                epoch: 1,
                wrapped,
                created_at_ms: now_ms,
                purpose_bound: true,
            },
        )
        .await?;
    stores
        .audit
        .append(
            id,
            &AuditRecord {
                at_ms: now_ms,
                actor: "system".into(),
                device_id: None,
                action: "tenant.create".into(),
                target: Some(id.to_string()),
            },
        )
        .await?;
    Ok(tenant)
}

/// A fresh wipe-command key: a random seed from the key vault (so it is stored only wrapped
/// under the tenant's KEK, like a tenant key) and its Ed25519 public half.
async fn new_wipe_key(stores: &Stores, tenant: TenantId, key_ref: &str) -> StoreResult<WipeKey> {
    use base64::Engine;
    let (seed, wrapped_seed) = stores
        .keys
        .generate_tenant_key(tenant, key_ref, KeyPurpose::WipeSeed)
        .await?;
    let signer = WipeSigner::from_seed(&seed).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(WipeKey {
        wrapped_seed,
        public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signer.public_key()),
        purpose_bound: true,
    })
}

/// Issues an invite; returns the code (only its hash is stored).
pub async fn invite(
    stores: &Stores,
    tenant: TenantId,
    role: Role,
    display_name: &str,
    created_by: &str,
    expires_at_ms: i64,
    auto_approve_device: bool,
) -> StoreResult<String> {
    let code = random_token(18)?;
    let invite = Invite {
        code_hash: token_hash(&code),
        role,
        display_name: display_name.into(),
        created_by: created_by.into(),
        expires_at_ms,
        auto_approve_device,
        user_id: None,
    };
    stores.identity.put_invite(tenant, &invite).await?;
    Ok(code)
}

/// Issues a device invite: a code that enrolls another device of the existing `user` (their
/// role and name; the device is approved as any new device). Returns the code.
pub async fn device_invite(
    stores: &Stores,
    tenant: TenantId,
    user: &crate::model::User,
    created_by: &str,
    expires_at_ms: i64,
) -> StoreResult<String> {
    let code = random_token(18)?;
    let invite = Invite {
        code_hash: token_hash(&code),
        role: user.role,
        display_name: user.display_name.clone(),
        created_by: created_by.into(),
        expires_at_ms,
        auto_approve_device: false,
        user_id: Some(user.user_id),
    };
    stores.identity.put_invite(tenant, &invite).await?;
    Ok(code)
}

/// What a fresh server prints for its newcomer.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The tenant to set up.
    pub tenant: Tenant,
    /// The one-time code for its first admin.
    pub code: String,
}

/// Makes sure there is a tenant, and if it has no users yet, a fresh setup code for the first
/// admin (valid 24 h). Returns what to print.
pub async fn bootstrap(stores: &Stores, now_ms: i64) -> StoreResult<Option<Setup>> {
    let tenants = stores.tenants.list_tenants().await?;
    let first_run = tenants.is_empty();
    let tenant = match tenants.into_iter().find(|t| t.offboarded_at_ms.is_none()) {
        Some(t) => t,
        None if first_run => create_tenant(stores, "My clinic", now_ms).await?,
        None => return Ok(None),
    };
    if !stores.identity.list_users(tenant.id).await?.is_empty() {
        return Ok(None);
    }
    let code = setup_code(stores, tenant.id, now_ms).await?;
    Ok(Some(Setup { tenant, code }))
}

/// A one-time setup code for a clinic's first admin (valid 24 h; its device is approved at
/// once: someone has to be first).
pub async fn setup_code(stores: &Stores, tenant: TenantId, now_ms: i64) -> StoreResult<String> {
    invite(
        stores,
        tenant,
        Role::Admin,
        "First admin",
        "setup",
        now_ms + 24 * 3600 * 1000,
        true,
    )
    .await
}

/// A new clinic and its first admin's setup code (the operator's `tenant create`).
pub async fn create_clinic(stores: &Stores, name: &str, now_ms: i64) -> StoreResult<Setup> {
    let tenant = create_tenant(stores, name, now_ms).await?;
    let code = setup_code(stores, tenant.id, now_ms).await?;
    Ok(Setup { tenant, code })
}

/// Crypto-shreds an exported clinic: its key-encryption key is destroyed (AWS: the KMS key
/// disabled and scheduled for deletion; embedded: the key row overwritten and the WAL
/// truncated), the tenant is marked offboarded (every request refused) and the event is
/// audited. Idempotent: a retry after a failure finishes it.
pub async fn shred_clinic(stores: &Stores, tenant: &Tenant, now_ms: i64) -> StoreResult<()> {
    stores.tenants.set_offboarded(tenant.id, now_ms).await?;
    for d in stores.devices.list_devices(tenant.id).await? {
        stores
            .devices
            .revoke_device_sessions(tenant.id, d.device_id)
            .await?;
    }
    if tenant.offboarded_at_ms.is_none() {
        stores
            .audit
            .append(
                tenant.id,
                &AuditRecord {
                    at_ms: now_ms,
                    actor: "operator".into(),
                    device_id: None,
                    action: "tenant.offboard".into(),
                    target: Some(tenant.id.to_string()),
                },
            )
            .await?;
    }
    match stores
        .keys
        .shred_tenant_kek(tenant.id, &tenant.key_ref)
        .await
    {
        Ok(()) => Ok(()),
        // A retry finds the KMS key already pending deletion.
        Err(StoreError::Backend(m))
            if m.contains("KMSInvalidStateException") || m.contains("pending deletion") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
