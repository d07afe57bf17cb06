//! The passkey seam: what the core needs from an authenticator ([`Authenticator`]; the app's
//! platform authenticator reaches it through the foreign trait `crate::ffi::PasskeyProvider`),
//! and a software authenticator, [`SoftwarePasskey`], for the `ward` CLI and tests.
//!
//! The core never sees a passkey's private key on a phone: it hands the WebAuthn options JSON
//! the server produced (`{"publicKey": …}`) to the app, which passes it to ASAuthorization
//! (iOS) or Credential Manager (Android) and returns the credential JSON. [`SoftwarePasskey`]
//! implements the same two calls in software — a P-256 key (ring), `none` attestation, user
//! presence and verification asserted, a signature counter — and serialises to JSON so the CLI
//! can keep it in its device folder. It is as safe as the file it is kept in, and is not for
//! phones.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Failures an authenticator reports.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PasskeyError {
    /// The user dismissed the prompt.
    #[error("the user cancelled the passkey prompt")]
    UserCancelled,
    /// No passkey for this account on this device.
    #[error("no matching passkey on this device")]
    NoCredential,
    /// The authenticator failed.
    #[error("authenticator: {detail}")]
    Failed {
        /// Platform detail.
        detail: String,
    },
}

/// What the core needs from an authenticator: the two WebAuthn ceremonies, options JSON in,
/// credential JSON out. The app's platform authenticator reaches it through the foreign trait
/// `crate::ffi::PasskeyProvider`; [`SoftwarePasskey`] implements it directly.
pub trait Authenticator: Send + Sync {
    /// Creates a passkey (registration).
    fn create_passkey(&self, options_json: String) -> Result<String, PasskeyError>;
    /// Signs a challenge with an existing passkey (authentication).
    fn get_passkey(&self, options_json: String) -> Result<String, PasskeyError>;
}

pub(crate) fn failed(detail: impl Into<String>) -> PasskeyError {
    PasskeyError::Failed {
        detail: detail.into(),
    }
}

/// A stored software credential.
#[derive(Clone, Serialize, Deserialize)]
struct SoftCredential {
    rp_id: String,
    credential_id: String,
    pkcs8: String,
    user_handle: String,
    counter: u32,
}

/// A software passkey authenticator (see the module documentation).
#[derive(uniffi::Object)]
pub struct SoftwarePasskey {
    origin: String,
    creds: Mutex<Vec<SoftCredential>>,
}

impl std::fmt::Debug for SoftwarePasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwarePasskey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    origin: String,
    credentials: Vec<SoftCredential>,
}

impl SoftwarePasskey {
    /// A new, empty authenticator presenting `origin` (the FFI constructor
    /// `SoftwarePasskey::new` wraps this).
    pub(crate) fn empty(origin: String) -> Self {
        Self {
            origin,
            creds: Mutex::new(Vec::new()),
        }
    }

    /// Restores an authenticator saved with [`SoftwarePasskey::saved_json`].
    pub(crate) fn restore(json: &str) -> Result<Self, PasskeyError> {
        let saved: Saved = serde_json::from_str(json).map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            origin: saved.origin,
            creds: Mutex::new(saved.credentials),
        })
    }

    /// The credentials (private keys included) as JSON.
    pub(crate) fn saved_json(&self) -> String {
        let saved = Saved {
            origin: self.origin.clone(),
            credentials: self.lock().clone(),
        };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SoftCredential>> {
        self.creds.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }
}

/// User present, user verified.
const FLAGS_UP_UV: u8 = 0x01 | 0x04;
/// ... and attested credential data included.
const FLAG_AT: u8 = 0x40;

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, PasskeyError> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| failed(format!("options lack {}", path.join("."))))?;
    }
    cur.as_str()
        .ok_or_else(|| failed(format!("options field {} is not a string", path.join("."))))
}

impl Authenticator for SoftwarePasskey {
    fn create_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        let options: Value =
            serde_json::from_str(&options_json).map_err(|e| failed(e.to_string()))?;
        let rp_id = str_at(&options, &["publicKey", "rp", "id"])?.to_string();
        let challenge = str_at(&options, &["publicKey", "challenge"])?;
        let user_handle = str_at(&options, &["publicKey", "user", "id"])?.to_string();
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| failed("key generation failed"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| failed("key generation failed"))?;
        let mut cred_id = [0u8; 16];
        ward_proto::keys::fill_random(&mut cred_id).map_err(|_| failed("no randomness"))?;
        let public = pair.public_key().as_ref();
        if public.len() != 65 {
            return Err(failed("unexpected public key encoding"));
        }
        let cose_key = cbor::map(&[
            (cbor::int(1), cbor::int(2)),
            (cbor::int(3), cbor::int(-7)),
            (cbor::int(-1), cbor::int(1)),
            (cbor::int(-2), cbor::bytes(&public[1..33])),
            (cbor::int(-3), cbor::bytes(&public[33..65])),
        ]);
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(FLAGS_UP_UV | FLAG_AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(cred_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&cred_id);
        auth_data.extend_from_slice(&cose_key);
        let attestation = cbor::map(&[
            (cbor::text("fmt"), cbor::text("none")),
            (cbor::text("attStmt"), cbor::map(&[])),
            (cbor::text("authData"), cbor::bytes(&auth_data)),
        ]);
        let client_data = self.client_data("webauthn.create", challenge);
        let id = URL_SAFE_NO_PAD.encode(cred_id);
        self.lock().push(SoftCredential {
            rp_id,
            credential_id: id.clone(),
            pkcs8: URL_SAFE_NO_PAD.encode(Zeroizing::new(pkcs8.as_ref().to_vec())),
            user_handle,
            counter: 0,
        });
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            },
            "extensions": {},
        })
        .to_string())
    }

    fn get_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        let options: Value =
            serde_json::from_str(&options_json).map_err(|e| failed(e.to_string()))?;
        let rp_id = str_at(&options, &["publicKey", "rpId"])?.to_string();
        let challenge = str_at(&options, &["publicKey", "challenge"])?;
        let allowed: Vec<String> = options["publicKey"]["allowCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut creds = self.lock();
        let cred = creds
            .iter_mut()
            .find(|c| {
                c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.credential_id))
            })
            .ok_or(PasskeyError::NoCredential)?;
        cred.counter = cred.counter.wrapping_add(1);
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(FLAGS_UP_UV);
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
        let pkcs8 = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(&cred.pkcs8)
                .map_err(|_| failed("stored key is damaged"))?,
        );
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .map_err(|_| failed("stored key is damaged"))?;
        let sig = pair
            .sign(&rng, &signed)
            .map_err(|_| failed("signing failed"))?;
        Ok(json!({
            "id": cred.credential_id,
            "rawId": cred.credential_id,
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                "signature": URL_SAFE_NO_PAD.encode(sig.as_ref()),
                "userHandle": cred.user_handle,
            },
            "extensions": {},
        })
        .to_string())
    }
}

/// The few CBOR (RFC 8949) encodings an attestation object needs.
mod cbor {
    fn head(major: u8, value: u64) -> Vec<u8> {
        let m = major << 5;
        match value {
            0..=23 => vec![m | value as u8],
            24..=0xff => vec![m | 24, value as u8],
            0x100..=0xffff => {
                let mut v = vec![m | 25];
                v.extend_from_slice(&(value as u16).to_be_bytes());
                v
            }
            _ => {
                let mut v = vec![m | 26];
                v.extend_from_slice(&(value as u32).to_be_bytes());
                v
            }
        }
    }

    pub fn int(v: i64) -> Vec<u8> {
        if v >= 0 {
            head(0, v as u64)
        } else {
            head(1, (-1 - v) as u64)
        }
    }

    pub fn bytes(b: &[u8]) -> Vec<u8> {
        let mut v = head(2, b.len() as u64);
        v.extend_from_slice(b);
        v
    }

    pub fn text(s: &str) -> Vec<u8> {
        let mut v = head(3, s.len() as u64);
        v.extend_from_slice(s.as_bytes());
        v
    }

    pub fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut v = head(5, entries.len() as u64);
        for (k, val) in entries {
            v.extend_from_slice(k);
            v.extend_from_slice(val);
        }
        v
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn encodings_match_rfc_8949_examples() {
            assert_eq!(super::int(10), vec![0x0a]);
            assert_eq!(super::int(100), vec![0x18, 0x64]);
            assert_eq!(super::int(1000), vec![0x19, 0x03, 0xe8]);
            assert_eq!(super::int(-1), vec![0x20]);
            assert_eq!(super::int(-7), vec![0x26]);
            assert_eq!(super::text("a"), vec![0x61, 0x61]);
            assert_eq!(super::bytes(&[1, 2, 3, 4]), vec![0x44, 1, 2, 3, 4]);
            assert_eq!(super::map(&[]), vec![0xa0]);
        }
    }
}
