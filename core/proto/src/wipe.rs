//! The remote-wipe protocol's two signed messages: the backend's wipe command and the
//! device's wipe receipt.
//!
//! When an admin revokes a device, the backend signs a [`WipeCommand`] with the tenant's wipe
//! key (Ed25519; its public half is pinned by the device at enrollment) and answers the
//! device's next request with it. The device executes a command only if the signature verifies
//! under the pinned key *and* the command names its own tenant and device, so neither a forged
//! command nor one captured from another device can shred a vault. After the wipe, the device
//! signs a [`WipeReceipt`] with its own device key; the backend checks it against the key the
//! device enrolled with and records "wiped at …".
//!
//! Each message travels as its exact JSON text plus a signature over
//! `"ward-wipe-v1\n" ‖ json` (command) or `"ward-wipe-receipt-v1\n" ‖ json` (receipt): the text is
//! verified before it is parsed, so no canonical re-encoding is needed, and the two prefixes
//! keep one kind of signature from passing for the other or for a request signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, TenantId};
use crate::signing::{DeviceKey, PUBLIC_KEY_LEN};

const COMMAND_DOMAIN: &[u8] = b"ward-wipe-v1\n";
const RECEIPT_DOMAIN: &[u8] = b"ward-wipe-receipt-v1\n";

/// Why a signed wipe message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WipeError {
    /// The signature is missing, malformed or does not verify under the expected key.
    #[error("wipe message signature does not verify")]
    BadSignature,
    /// The message is signed but names another tenant or device.
    #[error("wipe message is for another device")]
    WrongDevice,
    /// The signed text is not a valid message.
    #[error("wipe message malformed: {0}")]
    Malformed(String),
    /// The key could not be made.
    #[error("wipe key invalid")]
    InvalidKey,
}

/// What the backend orders a revoked device to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct WipeCommand {
    /// Format version (1).
    pub version: u32,
    /// Tenant.
    pub tenant: TenantId,
    /// The device to wipe.
    pub device: DeviceId,
    /// Unique id of this command (echoed by the receipt).
    pub command_id: String,
    /// When the admin revoked the device.
    pub issued_at_ms: i64,
    /// Whether the device uploads its unsynced records to quarantine before shredding.
    pub rescue: bool,
}

/// A [`WipeCommand`] as signed by the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SignedWipe {
    /// The command's exact JSON text.
    pub command: String,
    /// Unpadded base64url Ed25519 signature over `"ward-wipe-v1\n" ‖ command`.
    pub signature: String,
}

/// What a device reports after shredding its vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct WipeReceipt {
    /// Format version (1).
    pub version: u32,
    /// Tenant.
    pub tenant: TenantId,
    /// The wiped device.
    pub device: DeviceId,
    /// The command executed.
    pub command_id: String,
    /// When the vault was shredded (device clock).
    pub wiped_at_ms: i64,
    /// Record versions uploaded to quarantine first.
    pub rescued_versions: u32,
    /// Photos that were not uploaded and are lost with the vault.
    pub unrescued_photos: u32,
}

/// A [`WipeReceipt`] signed by the device key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SignedReceipt {
    /// The receipt's exact JSON text.
    pub receipt: String,
    /// Unpadded base64url Ed25519 signature over `"ward-wipe-receipt-v1\n" ‖ receipt`.
    pub signature: String,
}

fn domain(prefix: &[u8], text: &str) -> Vec<u8> {
    [prefix, text.as_bytes()].concat()
}

fn verify(
    public_key: &[u8; PUBLIC_KEY_LEN],
    prefix: &[u8],
    text: &str,
    sig: &str,
) -> Result<(), WipeError> {
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| WipeError::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&domain(prefix, text), &sig)
        .map_err(|_| WipeError::BadSignature)
}

/// The backend's wipe-signing key (Ed25519 from a 32-byte seed held wrapped by the tenant's
/// KEK).
pub struct WipeSigner {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for WipeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WipeSigner").finish_non_exhaustive()
    }
}

impl WipeSigner {
    /// The signer for a 32-byte seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, WipeError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| WipeError::InvalidKey)?;
        Ok(Self { pair })
    }

    /// The public key devices pin.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs `command`.
    pub fn sign(&self, command: &WipeCommand) -> Result<SignedWipe, WipeError> {
        let text =
            serde_json::to_string(command).map_err(|e| WipeError::Malformed(e.to_string()))?;
        let sig = self.pair.sign(&domain(COMMAND_DOMAIN, &text));
        Ok(SignedWipe {
            command: text,
            signature: URL_SAFE_NO_PAD.encode(sig),
        })
    }
}

impl SignedWipe {
    /// Verifies the command under the pinned key and that it is for `tenant`/`device`.
    pub fn verify(
        &self,
        pinned: &[u8; PUBLIC_KEY_LEN],
        tenant: TenantId,
        device: DeviceId,
    ) -> Result<WipeCommand, WipeError> {
        verify(pinned, COMMAND_DOMAIN, &self.command, &self.signature)?;
        let c: WipeCommand =
            serde_json::from_str(&self.command).map_err(|e| WipeError::Malformed(e.to_string()))?;
        if c.version != 1 {
            return Err(WipeError::Malformed(format!("version {}", c.version)));
        }
        if c.tenant != tenant || c.device != device {
            return Err(WipeError::WrongDevice);
        }
        Ok(c)
    }
}

impl SignedReceipt {
    /// Signs `receipt` with the device key.
    pub fn sign(key: &DeviceKey, receipt: &WipeReceipt) -> Result<Self, WipeError> {
        let text =
            serde_json::to_string(receipt).map_err(|e| WipeError::Malformed(e.to_string()))?;
        let sig = key.sign_message(&domain(RECEIPT_DOMAIN, &text));
        Ok(Self {
            receipt: text,
            signature: URL_SAFE_NO_PAD.encode(sig),
        })
    }

    /// Verifies the receipt under the device's enrolled key and that it is for
    /// `tenant`/`device`.
    pub fn verify(
        &self,
        device_key: &[u8; PUBLIC_KEY_LEN],
        tenant: TenantId,
        device: DeviceId,
    ) -> Result<WipeReceipt, WipeError> {
        verify(device_key, RECEIPT_DOMAIN, &self.receipt, &self.signature)?;
        let r: WipeReceipt =
            serde_json::from_str(&self.receipt).map_err(|e| WipeError::Malformed(e.to_string()))?;
        if r.version != 1 {
            return Err(WipeError::Malformed(format!(
                "receipt version {}",
                r.version
            )));
        }
        if r.tenant != tenant || r.device != device {
            return Err(WipeError::WrongDevice);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(tenant: TenantId, device: DeviceId) -> WipeCommand {
        WipeCommand {
            version: 1,
            tenant,
            device,
            command_id: "c1".into(),
            issued_at_ms: 1,
            rescue: true,
        }
    }

    #[test]
    fn command_verifies_only_under_the_pinned_key_for_its_device() {
        let (t, d) = (TenantId::random(), DeviceId::random());
        let signer = WipeSigner::from_seed(&[7u8; 32]).unwrap();
        let forger = WipeSigner::from_seed(&[8u8; 32]).unwrap();
        let signed = signer.sign(&command(t, d)).unwrap();
        assert_eq!(
            signed
                .verify(&signer.public_key(), t, d)
                .unwrap()
                .command_id,
            "c1"
        );
        // Signed by another key: refused.
        let forged = forger.sign(&command(t, d)).unwrap();
        assert_eq!(
            forged.verify(&signer.public_key(), t, d),
            Err(WipeError::BadSignature)
        );
        // Unsigned or with an altered text: refused.
        let mut unsigned = signed.clone();
        unsigned.signature = String::new();
        assert_eq!(
            unsigned.verify(&signer.public_key(), t, d),
            Err(WipeError::BadSignature)
        );
        let mut altered = signed.clone();
        altered.command = altered.command.replace("true", "false");
        assert_eq!(
            altered.verify(&signer.public_key(), t, d),
            Err(WipeError::BadSignature)
        );
        // Genuine, but for another device.
        assert_eq!(
            signed.verify(&signer.public_key(), t, DeviceId::random()),
            Err(WipeError::WrongDevice)
        );
    }

    #[test]
    fn receipt_verifies_under_the_device_key_only() {
        let (t, d) = (TenantId::random(), DeviceId::random());
        let (key, _) = DeviceKey::generate().unwrap();
        let (other, _) = DeviceKey::generate().unwrap();
        let r = WipeReceipt {
            version: 1,
            tenant: t,
            device: d,
            command_id: "c1".into(),
            wiped_at_ms: 5,
            rescued_versions: 3,
            unrescued_photos: 0,
        };
        let signed = SignedReceipt::sign(&key, &r).unwrap();
        assert_eq!(signed.verify(&key.public_key(), t, d).unwrap(), r);
        assert_eq!(
            signed.verify(&other.public_key(), t, d),
            Err(WipeError::BadSignature)
        );
        // A command signature cannot pass for a receipt (different domain prefix).
        let signer = WipeSigner::from_seed(&[9u8; 32]).unwrap();
        let cmd = signer.sign(&command(t, d)).unwrap();
        let swapped = SignedReceipt {
            receipt: cmd.command,
            signature: cmd.signature,
        };
        assert!(swapped.verify(&signer.public_key(), t, d).is_err());
        // A receipt of another (future) version is not taken for this one.
        let v2 = SignedReceipt::sign(&key, &WipeReceipt { version: 2, ..r }).unwrap();
        assert!(matches!(
            v2.verify(&key.public_key(), t, d),
            Err(WipeError::Malformed(_))
        ));
    }
}
