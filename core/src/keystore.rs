//! The platform key store seam: the vault key exists at rest only wrapped by it.
//!
//! [`SecureKeyStore`] is a foreign trait: the iOS app implements it with the Keychain / Secure
//! Enclave, the Android app with the Android Keystore (StrongBox when present), each holding a
//! non-exportable, biometry-gated key that wraps Ward's vault key. Destroying that platform key
//! is the crypto-shred step of a wipe. [`SoftwareKeyStore`] is a file-backed implementation for
//! tests, desktop demos and the CLI; it offers no hardware protection and says so.

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

/// A key store keeping its wrapping keys in files under a folder. For tests, desktop and the
/// CLI only: a file is not a secure element.
#[derive(Debug, uniffi::Object)]
pub struct SoftwareKeyStore {
    dir: PathBuf,
}

#[uniffi::export]
impl SoftwareKeyStore {
    /// A key store in `dir` (created if missing). Keep it outside the vault folder, as a
    /// platform key store is.
    #[uniffi::constructor]
    pub fn new(dir: String) -> Result<Arc<Self>, KeyStoreError> {
        fs::create_dir_all(&dir).map_err(io_err)?;
        Ok(Arc::new(Self {
            dir: PathBuf::from(dir),
        }))
    }
}

fn io_err(e: std::io::Error) -> KeyStoreError {
    KeyStoreError::Unavailable {
        detail: e.to_string(),
    }
}

impl SoftwareKeyStore {
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

impl SecureKeyStore for SoftwareKeyStore {
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
pub type KeyStoreRef = Arc<dyn SecureKeyStore>;
