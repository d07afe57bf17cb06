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
        Ok(Self {
            epoch,
            key: SymmetricKey::generate()?,
        })
    }
}

/// A client's (patient's) key of one generation: it wraps the content keys of that client's
/// clinical data (notes, photos, thumbnails, consents; envelope format 3). Released only to the
/// devices of people who may read the client now; a new generation is made for new data when a
/// member leaves the care team.
#[derive(Clone, Debug)]
pub struct ClientKey {
    /// The client it belongs to (bound into every content-key wrap it makes).
    pub client: crate::ids::ObjectId,
    /// Generation: 1 first, one more on each rotation. New data is sealed under the newest.
    pub generation: u32,
    /// The key itself.
    pub key: SymmetricKey,
}

impl ClientKey {
    /// A new random key of `client` at `generation`.
    pub fn generate(client: crate::ids::ObjectId, generation: u32) -> Result<Self, RandomError> {
        Ok(Self {
            client,
            generation,
            key: SymmetricKey::generate()?,
        })
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

/// Errors of [`SymmetricKey::seal_small`] / [`SymmetricKey::open_small`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmallSealError {
    /// Authentication failed: wrong key, wrong context, or tampered data.
    #[error("authentication failed (wrong key, wrong context or tampered data)")]
    Auth,
    /// The RNG failed.
    #[error("random number generator failed")]
    Random,
}

impl SymmetricKey {
    /// Seals a small secret (another key, a canary) under this key: `nonce ‖ ciphertext ‖ tag`
    /// with a random nonce and `context` as associated data. Used for key wrapping, never for
    /// clinical content (that goes in envelopes).
    pub fn seal_small(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SmallSealError> {
        use ring::aead::{Aad, NONCE_LEN, Nonce};
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce).map_err(|_| SmallSealError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let key = self.aead().map_err(|_| SmallSealError::Auth)?;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| SmallSealError::Auth)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`SymmetricKey::seal_small`] produced with the same `context`.
    pub fn open_small(
        &self,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SmallSealError> {
        use ring::aead::{Aad, NONCE_LEN, Nonce};
        let nonce: [u8; NONCE_LEN] = sealed
            .get(..NONCE_LEN)
            .and_then(|n| n.try_into().ok())
            .ok_or(SmallSealError::Auth)?;
        let mut buf = Zeroizing::new(
            sealed
                .get(NONCE_LEN..)
                .ok_or(SmallSealError::Auth)?
                .to_vec(),
        );
        let key = self.aead().map_err(|_| SmallSealError::Auth)?;
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                buf.as_mut(),
            )
            .map_err(|_| SmallSealError::Auth)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_seal_round_trip_and_context_binding() {
        let k = SymmetricKey::generate().unwrap();
        let s = k.seal_small(b"ctx-a", b"secret").unwrap();
        assert_eq!(k.open_small(b"ctx-a", &s).unwrap().as_slice(), b"secret");
        assert_eq!(k.open_small(b"ctx-b", &s), Err(SmallSealError::Auth));
        let other = SymmetricKey::generate().unwrap();
        assert_eq!(other.open_small(b"ctx-a", &s), Err(SmallSealError::Auth));
        let mut t = s.clone();
        t[13] ^= 1;
        assert_eq!(k.open_small(b"ctx-a", &t), Err(SmallSealError::Auth));
        assert_eq!(k.open_small(b"ctx-a", &s[..5]), Err(SmallSealError::Auth));
        assert!(format!("{k:?}").contains("redacted"));
    }
}
