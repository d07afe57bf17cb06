//! The platform key store seam: the vault key exists at rest only wrapped by it.
//!
//! The vault calls [`KeyStore`]. On phones it is the foreign trait `crate::ffi::SecureKeyStore`:
//! the iOS app implements it with the Keychain / Secure Enclave, the Android app with the
//! Android Keystore (StrongBox when present), each holding a non-exportable, biometry-gated key
//! that wraps Ward's vault key. Destroying that platform key is the crypto-shred step of a wipe.
//! [`SoftwareKeyStore`] is a file-backed implementation for tests, desktop demos and the CLI; it
//! offers no hardware protection and says so.
//!
//! The trait the app implements lives in the FFI and the one the vault calls lives here, so the
//! vault (low in the layering) never depends on the FFI (at the top); the FFI adapts one to the
//! other. [`SoftwareKeyStore`] stays here, beside the trait it really implements: it is the
//! same kind of thing as the platform stores, not FFI glue.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ward_proto::SymmetricKey;
use zeroize::Zeroizing;

/// Failures a platform key store reports.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeyStoreError {
    /// The user dismissed the biometric / passcode prompt.
    #[error("the user cancelled authentication")]
    UserCancelled,
    /// The wrapping key is gone or permanently invalidated (wiped, biometrics re-enrolled).
    #[error("the wrapping key is missing or was invalidated")]
    KeyInvalidated,
    /// The key store is not usable right now.
    #[error("key store unavailable: {detail}")]
    Unavailable {
        /// Platform detail.
        detail: String,
    },
}

/// What the vault needs from a key store: wrap, unwrap and destroy its vault key under a
/// platform key named by an alias. The app's key store reaches it through the foreign trait
/// `crate::ffi::SecureKeyStore`; [`SoftwareKeyStore`] implements it directly.
///
/// Implementations must keep the wrapping key non-exportable and make `destroy_key`
/// irreversible.
pub trait KeyStore: Send + Sync {
    /// Wraps `key` under the platform key named `alias`, creating that key if needed.
    fn wrap_key(&self, alias: String, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// Unwraps what `wrap_key` returned (may prompt for biometrics).
    fn unwrap_key(&self, alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// Irreversibly destroys the platform key `alias` (crypto-shred). Idempotent.
    fn destroy_key(&self, alias: String) -> Result<(), KeyStoreError>;
}

/// A key store keeping its wrapping keys in files under a folder. For tests, desktop and the
/// CLI only: a file is not a secure element.
#[derive(Debug, uniffi::Object)]
pub struct SoftwareKeyStore {
    dir: PathBuf,
}

fn io_err(e: std::io::Error) -> KeyStoreError {
    KeyStoreError::Unavailable {
        detail: e.to_string(),
    }
}

impl SoftwareKeyStore {
    /// A key store in `dir`, created if missing (the FFI constructor `SoftwareKeyStore::new`
    /// wraps this).
    pub(crate) fn in_dir(dir: String) -> Result<Self, KeyStoreError> {
        fs::create_dir_all(&dir).map_err(io_err)?;
        Ok(Self {
            dir: PathBuf::from(dir),
        })
    }

    fn path(&self, alias: &str) -> Result<PathBuf, KeyStoreError> {
        let ok = !alias.is_empty()
            && alias.len() <= 128
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(KeyStoreError::Unavailable {
                detail: "invalid key alias".into(),
            });
        }
        Ok(self.dir.join(format!("{alias}.kek")))
    }

    fn load(&self, path: &Path) -> Result<SymmetricKey, KeyStoreError> {
        let bytes = Zeroizing::new(fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => KeyStoreError::KeyInvalidated,
            _ => io_err(e),
        })?);
        SymmetricKey::from_slice(&bytes).ok_or(KeyStoreError::KeyInvalidated)
    }
}

impl KeyStore for SoftwareKeyStore {
    fn wrap_key(&self, alias: String, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        let key = Zeroizing::new(key);
        let path = self.path(&alias)?;
        let kek = match self.load(&path) {
            Ok(k) => k,
            Err(KeyStoreError::KeyInvalidated) => {
                let k = SymmetricKey::generate().map_err(|e| KeyStoreError::Unavailable {
                    detail: e.to_string(),
                })?;
                let tmp = path.with_extension("kek.tmp");
                let mut f = fs::File::create(&tmp).map_err(io_err)?;
                f.write_all(k.expose_secret()).map_err(io_err)?;
                f.sync_all().map_err(io_err)?;
                fs::rename(&tmp, &path).map_err(io_err)?;
                k
            }
            Err(e) => return Err(e),
        };
        kek.seal_small(alias.as_bytes(), &key)
            .map_err(|e| KeyStoreError::Unavailable {
                detail: e.to_string(),
            })
    }

    fn unwrap_key(&self, alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
        let kek = self.load(&self.path(&alias)?)?;
        let plain = kek
            .open_small(alias.as_bytes(), &wrapped)
            .map_err(|_| KeyStoreError::KeyInvalidated)?;
        Ok(plain.to_vec())
    }

    fn destroy_key(&self, alias: String) -> Result<(), KeyStoreError> {
        let path = self.path(&alias)?;
        if let Ok(mut f) = fs::OpenOptions::new().write(true).open(&path) {
            // Overwrite before unlinking; on flash this is best effort, which is why the
            // platform implementations delete a hardware key instead.
            f.write_all(&[0u8; 32]).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}

/// A shared handle to whichever key store the app supplied.
pub type KeyStoreRef = Arc<dyn KeyStore>;
