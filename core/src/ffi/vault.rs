//! [`WardVault`]: the app's handle to its vault (create, open, unlock, lock, wipe, policy) and
//! the factory of the per-area sub-objects ([`Clients`], [`Notes`], [`Photos`], [`Consents`],
//! [`AuditLog`]).

use std::sync::Arc;

use super::audit::AuditLog;
use super::clients::Clients;
use super::consents::Consents;
use super::error::WardError;
use super::keystore::{SecureKeyStore, platform};
use super::notes::Notes;
use super::photos::Photos;
use crate::clock::SystemClock;
use crate::domain::clients::parse_id;
use crate::vault::index::Unreadable;
use crate::vault::{Identity, Policy, Vault};

type R<T> = Result<T, WardError>;

/// Where a new vault lives and whom it belongs to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VaultConfig {
    /// The app's private folder for the vault (excluded from backups by the app).
    pub dir: String,
    /// The clinic.
    pub tenant_id: String,
    /// This device.
    pub device_id: String,
    /// The signed-in user.
    pub user_id: String,
}

/// The vault's state for the app's status screen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VaultStatus {
    /// The clinic.
    pub tenant_id: String,
    /// This device.
    pub device_id: String,
    /// The user.
    pub user_id: String,
    /// Locked now.
    pub locked: bool,
    /// Wiped.
    pub wiped: bool,
    /// Stored versions this build cannot read (kept, never dropped; 0 while locked): show
    /// "N records need a newer Ward" and list them with `unreadable_records`.
    pub unreadable_records: u64,
}

/// The app's handle to its vault.
#[derive(Debug, uniffi::Object)]
pub struct WardVault {
    vault: Arc<Vault>,
}

#[uniffi::export]
impl WardVault {
    /// Creates a vault in an empty folder; it starts unlocked.
    #[uniffi::constructor]
    pub fn create(config: VaultConfig, key_store: Arc<dyn SecureKeyStore>) -> R<Arc<Self>> {
        let ident = Identity {
            tenant: parse_id(&config.tenant_id, "tenant")?,
            device: parse_id(&config.device_id, "device")?,
            actor: config.user_id,
        };
        let vault = Vault::create(
            &config.dir,
            ident,
            platform(key_store),
            Arc::new(SystemClock),
        )?;
        Ok(Arc::new(Self { vault }))
    }

    /// Opens an existing vault, locked.
    #[uniffi::constructor]
    pub fn open(dir: String, key_store: Arc<dyn SecureKeyStore>) -> R<Arc<Self>> {
        Ok(Arc::new(Self {
            vault: Vault::open(&dir, platform(key_store), Arc::new(SystemClock))?,
        }))
    }

    /// Unlocks (the key store may prompt for biometrics).
    pub fn unlock(&self) -> R<()> {
        Ok(self.vault.unlock()?)
    }

    /// Locks now.
    pub fn lock(&self) {
        self.vault.lock();
    }

    /// Whether locked (including by idle timeout).
    pub fn is_locked(&self) -> bool {
        self.vault.is_locked()
    }

    /// Locks if the idle timeout passed; call from a timer and on foregrounding.
    pub fn lock_if_idle(&self) -> bool {
        self.vault.lock_if_idle()
    }

    /// Crypto-shreds the vault: destroys the key-store key, then deletes every file.
    pub fn wipe(&self) -> R<()> {
        Ok(self.vault.wipe()?)
    }

    /// Status for the app.
    pub fn status(&self) -> VaultStatus {
        let ident = self.vault.identity();
        VaultStatus {
            tenant_id: ident.tenant.to_string(),
            device_id: ident.device.to_string(),
            user_id: ident.actor,
            locked: self.vault.is_locked(),
            wiped: self.vault.is_wiped(),
            unreadable_records: self.vault.unreadable_count(),
        }
    }

    /// Every stored version this build cannot read (damaged, or written by a newer Ward):
    /// kept in the vault so a newer build can read it; never silently left out.
    pub fn unreadable_records(&self) -> R<Vec<Unreadable>> {
        Ok(self.vault.with_unlocked(|ctx| Ok(ctx.unreadable()))?)
    }

    /// The tenant policy in force.
    pub fn policy(&self) -> Policy {
        self.vault.policy()
    }

    /// Sets the tenant policy (normally delivered by sync).
    pub fn set_policy(&self, policy: Policy) -> R<()> {
        Ok(self.vault.set_policy(policy)?)
    }

    /// Clients.
    pub fn clients(&self) -> Arc<Clients> {
        Arc::new(Clients {
            vault: self.vault.clone(),
        })
    }

    /// Notes.
    pub fn notes(&self) -> Arc<Notes> {
        Arc::new(Notes {
            vault: self.vault.clone(),
        })
    }

    /// Photos.
    pub fn photos(&self) -> Arc<Photos> {
        Arc::new(Photos {
            vault: self.vault.clone(),
        })
    }

    /// Consents.
    pub fn consents(&self) -> Arc<Consents> {
        Arc::new(Consents {
            vault: self.vault.clone(),
        })
    }

    /// The audit log.
    pub fn audit(&self) -> Arc<AuditLog> {
        Arc::new(AuditLog {
            vault: self.vault.clone(),
        })
    }
}

impl WardVault {
    /// The handle over a core vault (the CLI and tests).
    pub fn from_vault(vault: Arc<Vault>) -> Arc<Self> {
        Arc::new(Self { vault })
    }

    /// The Rust vault behind the handle (for the CLI and tests).
    pub fn inner(&self) -> &Arc<Vault> {
        &self.vault
    }
}
