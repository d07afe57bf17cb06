//! The key store the app implements, [`SecureKeyStore`], and the exported software store's
//! constructor ([`SoftwareKeyStore`] itself lives in `crate::keystore`, beside the trait the
//! vault calls).
//!
//! [`Platform`] adapts the foreign trait to the vault's [`KeyStore`], so nothing below the FFI
//! depends on this module.

use std::sync::Arc;

use crate::keystore::{KeyStore, KeyStoreError, KeyStoreRef, SoftwareKeyStore};

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyStoreError::Unavailable { detail: e.reason }
    }
}

/// A hardware-backed (on phones) key store that wraps and unwraps Ward's vault key.
///
/// The only place a raw key crosses the FFI: the vault key travels to the platform to be
/// wrapped at creation, and back from it at unlock. Implementations must keep the wrapping key
/// non-exportable and make `destroy_key` irreversible.
#[uniffi::export(with_foreign)]
pub trait SecureKeyStore: Send + Sync {
    /// Wraps `key` under the platform key named `alias`, creating that key if needed.
    fn wrap_key(&self, alias: String, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// Unwraps what `wrap_key` returned (may prompt for biometrics).
    fn unwrap_key(&self, alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// Irreversibly destroys the platform key `alias` (crypto-shred). Idempotent.
    fn destroy_key(&self, alias: String) -> Result<(), KeyStoreError>;
}

/// The app's key store as the vault's [`KeyStore`].
struct Platform(Arc<dyn SecureKeyStore>);

impl KeyStore for Platform {
    fn wrap_key(&self, alias: String, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        self.0.wrap_key(alias, key)
    }

    fn unwrap_key(&self, alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        self.0.unwrap_key(alias, wrapped)
    }

    fn destroy_key(&self, alias: String) -> Result<(), KeyStoreError> {
        self.0.destroy_key(alias)
    }
}

/// The key store the app handed over, as the vault takes it.
pub(crate) fn platform(key_store: Arc<dyn SecureKeyStore>) -> KeyStoreRef {
    Arc::new(Platform(key_store))
}

#[uniffi::export]
impl SoftwareKeyStore {
    /// A key store in `dir` (created if missing). Keep it outside the vault folder, as a
    /// platform key store is.
    #[uniffi::constructor]
    pub fn new(dir: String) -> Result<Arc<Self>, KeyStoreError> {
        Ok(Arc::new(Self::in_dir(dir)?))
    }
}

/// The software store can stand in for a platform one across the FFI (the CLI and tests hand
/// it to `WardVault` as a `SecureKeyStore`).
impl SecureKeyStore for SoftwareKeyStore {
    fn wrap_key(&self, alias: String, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        KeyStore::wrap_key(self, alias, key)
    }

    fn unwrap_key(&self, alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        KeyStore::unwrap_key(self, alias, wrapped)
    }

    fn destroy_key(&self, alias: String) -> Result<(), KeyStoreError> {
        KeyStore::destroy_key(self, alias)
    }
}
