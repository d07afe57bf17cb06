//! Symmetric key types: the per-tenant key (versioned by epoch) and per-object content keys.
//!
//! Raw key bytes live only inside these types, in [`zeroize::Zeroizing`] storage that is wiped
//! on drop; they have no `Debug` output of their bytes and no accessor that hands the bytes to
//! callers outside this crate family. ring's expanded AES key schedules are built per operation
//! from these bytes and dropped straight after (ring does not zeroize them; see ADR 0002).

use std::fmt;

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Length of every symmetric key Ward uses (AES-256).
pub const KEY_LEN: usize = 32;

/// Failure of the operating system's random number generator.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// Fills `buf` from the OS CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    SystemRandom::new().fill(buf).map_err(|_| RandomError)
}

/// 256 bits of secret key material, wiped from memory on drop.
#[derive(Clone)]
pub struct SymmetricKey(Zeroizing<[u8; KEY_LEN]>);

impl SymmetricKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(bytes.as_mut())?;
        Ok(Self(bytes))
    }

    /// Takes ownership of raw key bytes (for keys unwrapped from storage or the platform key
    /// store). The caller's copy should itself be zeroizing.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Builds a key from a slice; `None` when the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(arr))
    }

    /// The raw bytes, for wrapping under another key. Never log or persist them in clear.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A ring AES-256-GCM key for one operation. (ring only refuses keys of the wrong length,
    /// which the type rules out, but the error is still passed up rather than assumed away.)
    pub(crate) fn aead(&self) -> Result<LessSafeKey, ring::error::Unspecified> {
        UnboundKey::new(&AES_256_GCM, self.0.as_ref()).map(LessSafeKey::new)
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey(<redacted>)")
    }
}

/// A tenant (clinic) key of one epoch. It only ever encrypts content keys.
#[derive(Clone, Debug)]
pub struct TenantKey {
    /// Epoch of this key; a revocation rotates to a new epoch for new data.
    pub epoch: u32,
    /// The key itself.
    pub key: SymmetricKey,
}

impl TenantKey {
    /// A new random tenant key for `epoch`.
    pub fn generate(epoch: u32) -> Result<Self, RandomError> {
        Ok(Self { epoch, key: SymmetricKey::generate()? })
    }
}

/// A fresh key for exactly one object version's content.
#[derive(Debug)]
pub struct ContentKey(pub(crate) SymmetricKey);

impl ContentKey {
    /// A new random content key.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(SymmetricKey::generate()?))
    }
}
