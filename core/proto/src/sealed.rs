//! Key delivery sealed to a one-time X25519 key: how the backend hands a tenant key (or any
//! small secret) to an approved device or admin browser without ever sending it in clear.
//!
//! The requester makes a fresh [`SealRequestKey`] (an X25519 key that lives only in memory and
//! opens at most one reply) and sends its public half with the request. The backend answers
//! with [`seal_to`], which makes its own ephemeral X25519 key and returns a [`SealedKey`]. Every
//! seal uses a fresh sender key, so every derived key is used exactly once and the all-zero
//! AES-GCM nonce is safe. `context` names what is sealed and for whom (for tenant keys:
//! `b"ward tenant key"` ‖ tenant id ‖ epoch); it is bound into both the key derivation and the
//! AEAD, so a sealed blob cannot be passed off as another. Public keys of small order (whose
//! shared secret is all zeros) are refused on both sides. Because the request key cannot be
//! stored, a requester that dies before the answer arrives simply asks again. The opened
//! secret is zeroized on drop; the shared secret and ring's expanded keys are not (ADR 0002).
//!
//! ```text
//! shared     = X25519(own private key, peer public key)        -- 32 bytes; all zeros = error
//! key        = HKDF-SHA256(ikm = shared, salt = ASCII "ward sealed key v1",
//!                          info = sender_pub ‖ recipient_pub ‖ context, length = 32)
//! ciphertext = AES-256-GCM(key, nonce = 12 zero bytes, aad = context, secret) ‖ 16-byte tag
//! JSON       = {"version": 1, "ephemeral_public": b64url(sender_pub), "ciphertext": b64url(..)}
//! ```
//!
//! For a browser (WebCrypto only, no library; every call below is on `crypto.subtle` and
//! awaited): keep the `CryptoKeyPair` from
//! `generateKey({name: "X25519"}, false, ["deriveBits"])` and send
//! `exportKey("raw", publicKey)` unpadded-base64url-encoded. To open: `bits = deriveBits({name:
//! "X25519", public: importKey("raw", ephemeral_public, {name: "X25519"}, false, [])},
//! privateKey, 256)`; `ikm = importKey("raw", bits, "HKDF", false, ["deriveKey"])`; `key =
//! deriveKey({name: "HKDF", hash: "SHA-256", salt, info}, ikm, {name: "AES-GCM", length: 256},
//! false, ["decrypt"])` with `salt` and `info` byte-for-byte as above (public keys are the raw
//! 32-byte u-coordinates, `info` is their plain concatenation with `context`); then
//! `decrypt({name: "AES-GCM", iv: new Uint8Array(12), additionalData: context}, key,
//! ciphertext)`. Check `version === 1` first, and decode base64url without padding.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::hkdf;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The [`SealedKey`] format version this code writes and reads.
pub const SEALED_V1: u8 = 1;
/// Length of an X25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// HKDF salt of format version 1.
const HKDF_SALT: &[u8] = b"ward sealed key v1";
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// Errors from sealing or opening a [`SealedKey`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The OS random generator failed while making an ephemeral key.
    #[error("random number generator failed")]
    Random,
    /// The peer's public key was refused (a point of small order, e.g. all zeros).
    #[error("invalid X25519 public key (point of small order)")]
    InvalidPublicKey,
    /// Decryption failed: wrong recipient key, wrong context, or tampered data.
    #[error("sealed key failed to open (wrong key, wrong context or tampered data)")]
    Auth,
    /// Written by a newer version of Ward.
    #[error("unsupported sealed key version {0}")]
    UnsupportedVersion(u8),
    /// ring refused a key derivation that cannot fail for these fixed parameters.
    #[error("internal cryptographic failure")]
    Crypto,
}

/// A secret sealed to one recipient's one-time X25519 key. Travels as JSON in API responses:
/// `{"version":1,"ephemeral_public":"<base64url>","ciphertext":"<base64url>"}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SealedKey {
    /// Format version ([`SEALED_V1`]).
    pub version: u8,
    /// The sender's ephemeral X25519 public key.
    #[serde(with = "b64_array")]
    pub ephemeral_public: [u8; PUBLIC_KEY_LEN],
    /// AES-256-GCM ciphertext of the secret with the 16-byte tag appended.
    #[serde(with = "b64_vec")]
    pub ciphertext: Vec<u8>,
}

/// The requester's one-time X25519 key. It cannot be cloned or stored, and [`Self::open`]
/// consumes it, so each request key opens at most one [`SealedKey`].
pub struct SealRequestKey {
    private: EphemeralPrivateKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl SealRequestKey {
    /// A fresh one-time key.
    pub fn generate() -> Result<Self, SealError> {
        let private = EphemeralPrivateKey::generate(&X25519, &SystemRandom::new())
            .map_err(|_| SealError::Random)?;
        let public = public_bytes(&private)?;
        Ok(Self { private, public })
    }

    /// The public key to send with the request.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.public
    }

    /// Opens `sealed`, which must have been sealed to this key with the same `context`. The key
    /// is consumed, so it cannot open a second reply:
    ///
    /// ```compile_fail,E0382
    /// # use ward_proto::sealed::{SealRequestKey, seal_to};
    /// let key = SealRequestKey::generate()?;
    /// let sealed = seal_to(&key.public_key(), b"ctx", b"secret")?;
    /// let first = key.open(&sealed, b"ctx")?;
    /// let second = key.open(&sealed, b"ctx")?; // error[E0382]: use of moved value
    /// # Ok::<(), ward_proto::sealed::SealError>(())
    /// ```
    pub fn open(self, sealed: &SealedKey, context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.version != SEALED_V1 {
            return Err(SealError::UnsupportedVersion(sealed.version));
        }
        let key = agree_and_derive(
            self.private,
            &sealed.ephemeral_public,
            &sealed.ephemeral_public,
            &self.public,
            context,
        )?;
        let mut buf = Zeroizing::new(sealed.ciphertext.clone());
        let len = key
            .open_in_place(zero_nonce(), Aad::from(context), buf.as_mut_slice())
            .map_err(|_| SealError::Auth)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

impl fmt::Debug for SealRequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealRequestKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Seals `secret` to `recipient_public` (a requester's [`SealRequestKey::public_key`]), bound
/// to `context`. Every call uses a fresh ephemeral key, so sealing the same secret twice gives
/// unrelated outputs.
pub fn seal_to(
    recipient_public: &[u8; PUBLIC_KEY_LEN],
    context: &[u8],
    secret: &[u8],
) -> Result<SealedKey, SealError> {
    let private = EphemeralPrivateKey::generate(&X25519, &SystemRandom::new())
        .map_err(|_| SealError::Random)?;
    let ephemeral_public = public_bytes(&private)?;
    let key = agree_and_derive(
        private,
        recipient_public,
        &ephemeral_public,
        recipient_public,
        context,
    )?;
    // Room for the tag up front, so no reallocation leaves a plaintext copy behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(secret.len() + TAG_LEN));
    buf.extend_from_slice(secret);
    key.seal_in_place_append_tag(zero_nonce(), Aad::from(context), &mut *buf)
        .map_err(|_| SealError::Crypto)?;
    Ok(SealedKey {
        version: SEALED_V1,
        ephemeral_public,
        ciphertext: std::mem::take(&mut *buf),
    })
}

fn public_bytes(private: &EphemeralPrivateKey) -> Result<[u8; PUBLIC_KEY_LEN], SealError> {
    private
        .compute_public_key()
        .map_err(|_| SealError::Crypto)?
        .as_ref()
        .try_into()
        .map_err(|_| SealError::Crypto)
}

/// X25519 with `peer`, then HKDF-SHA256 into a single-use AES-256-GCM key.
fn agree_and_derive(
    private: EphemeralPrivateKey,
    peer: &[u8; PUBLIC_KEY_LEN],
    sender_public: &[u8; PUBLIC_KEY_LEN],
    recipient_public: &[u8; PUBLIC_KEY_LEN],
    context: &[u8],
) -> Result<LessSafeKey, SealError> {
    agreement::agree_ephemeral(private, &UnparsedPublicKey::new(&X25519, peer), |shared| {
        derive_key(shared, sender_public, recipient_public, context)
    })
    .map_err(|_| SealError::InvalidPublicKey)?
}

fn derive_key(
    shared: &[u8],
    sender_public: &[u8; PUBLIC_KEY_LEN],
    recipient_public: &[u8; PUBLIC_KEY_LEN],
    context: &[u8],
) -> Result<LessSafeKey, SealError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(shared);
    let info = [
        sender_public.as_slice(),
        recipient_public.as_slice(),
        context,
    ];
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| SealError::Crypto)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

fn zero_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

/// Serde for byte strings as unpadded base64url.
mod b64_vec {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|e| de::Error::custom(format_args!("invalid base64url: {e}")))
    }
}

/// Serde for fixed-length byte arrays as unpadded base64url.
mod b64_array {
    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        super::b64_vec::serialize(bytes, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let bytes = super::b64_vec::deserialize(d)?;
        let len = bytes.len();
        bytes
            .try_into()
            .map_err(|_| de::Error::custom(format_args!("expected {N} bytes, got {len}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(epoch: u32) -> Vec<u8> {
        let mut c = b"ward tenant key".to_vec();
        c.extend_from_slice(&[0xa5; 16]);
        c.extend_from_slice(&epoch.to_be_bytes());
        c
    }

    const SECRET: [u8; 32] = [0x5e; 32];

    /// Seals `SECRET` to a fresh request key, lets `tamper` modify the result, then opens it.
    fn open_tampered(tamper: impl FnOnce(&mut SealedKey)) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let rk = SealRequestKey::generate().unwrap();
        let mut sealed = seal_to(&rk.public_key(), &ctx(1), &SECRET).unwrap();
        tamper(&mut sealed);
        rk.open(&sealed, &ctx(1))
    }

    /// X25519 u-coordinates of small order (and non-canonical encodings of them), from the
    /// usual blocklist (e.g. libsodium); each gives an all-zero shared secret.
    fn low_order_points() -> Vec<[u8; 32]> {
        let hex = [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        hex.iter()
            .map(|h| {
                let mut out = [0u8; 32];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
                }
                out
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        for len in [0usize, 1, 32, 1000] {
            let secret: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let rk = SealRequestKey::generate().unwrap();
            let sealed = seal_to(&rk.public_key(), &ctx(3), &secret).unwrap();
            assert_eq!(sealed.version, SEALED_V1);
            assert_eq!(sealed.ciphertext.len(), len + TAG_LEN);
            assert_ne!(sealed.ephemeral_public, rk.public_key());
            assert_eq!(
                rk.open(&sealed, &ctx(3)).unwrap().as_slice(),
                secret.as_slice()
            );
        }
    }

    #[test]
    fn wrong_recipient_fails() {
        let intended = SealRequestKey::generate().unwrap();
        let other = SealRequestKey::generate().unwrap();
        let sealed = seal_to(&intended.public_key(), &ctx(1), &SECRET).unwrap();
        assert_eq!(other.open(&sealed, &ctx(1)), Err(SealError::Auth));
    }

    #[test]
    fn wrong_context_fails() {
        for wrong in [ctx(2), ctx(1)[..ctx(1).len() - 1].to_vec(), Vec::new()] {
            let rk = SealRequestKey::generate().unwrap();
            let sealed = seal_to(&rk.public_key(), &ctx(1), &SECRET).unwrap();
            assert_eq!(rk.open(&sealed, &wrong), Err(SealError::Auth));
        }
    }

    #[test]
    fn tampered_ciphertext_fails() {
        for i in 0..SECRET.len() + TAG_LEN {
            assert_eq!(
                open_tampered(|s| s.ciphertext[i] ^= 0x01),
                Err(SealError::Auth)
            );
        }
        assert_eq!(
            open_tampered(|s| s.ciphertext.push(0)),
            Err(SealError::Auth)
        );
        assert_eq!(
            open_tampered(|s| {
                s.ciphertext.pop();
            }),
            Err(SealError::Auth)
        );
        assert_eq!(
            open_tampered(|s| s.ciphertext.truncate(15)),
            Err(SealError::Auth)
        );
        assert_eq!(
            open_tampered(|s| s.ciphertext.clear()),
            Err(SealError::Auth)
        );
    }

    #[test]
    fn tampered_ephemeral_key_fails() {
        for i in 0..32 {
            assert_eq!(
                open_tampered(|s| s.ephemeral_public[i] ^= 0x02),
                Err(SealError::Auth)
            );
        }
        // X25519 ignores the top bit of a public key, so this flip leaves the shared secret
        // unchanged; it must still fail because the raw key bytes are bound into HKDF's info.
        assert_eq!(
            open_tampered(|s| s.ephemeral_public[31] ^= 0x80),
            Err(SealError::Auth)
        );
        // A sealed key from another exchange, under the same context, does not open either.
        let stranger = SealRequestKey::generate().unwrap();
        let foreign = seal_to(&stranger.public_key(), &ctx(1), &SECRET).unwrap();
        assert_eq!(
            open_tampered(|s| s.ephemeral_public = foreign.ephemeral_public),
            Err(SealError::Auth)
        );
    }

    #[test]
    fn unknown_version_is_refused() {
        assert_eq!(
            open_tampered(|s| s.version = 2),
            Err(SealError::UnsupportedVersion(2))
        );
        assert_eq!(
            open_tampered(|s| s.version = 0),
            Err(SealError::UnsupportedVersion(0))
        );
    }

    #[test]
    fn low_order_public_keys_are_rejected() {
        for point in low_order_points() {
            assert_eq!(
                seal_to(&point, &ctx(1), &SECRET),
                Err(SealError::InvalidPublicKey),
                "seal_to accepted {point:02x?}"
            );
            assert_eq!(
                open_tampered(|s| s.ephemeral_public = point),
                Err(SealError::InvalidPublicKey),
                "open accepted {point:02x?}"
            );
        }
    }

    #[test]
    fn json_round_trip() {
        let rk = SealRequestKey::generate().unwrap();
        let sealed = seal_to(&rk.public_key(), &ctx(1), &SECRET).unwrap();
        let json = serde_json::to_string(&sealed).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], 1);
        let eph = value["ephemeral_public"].as_str().unwrap();
        let ct = value["ciphertext"].as_str().unwrap();
        assert_eq!((eph.len(), ct.len()), (43, 64)); // 32 and 48 bytes, unpadded
        let alphabet = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        assert!(alphabet(eph) && alphabet(ct), "{json}");
        let back: SealedKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(rk.open(&back, &ctx(1)).unwrap().as_slice(), &SECRET);
    }

    #[test]
    fn json_rejects_malformed_fields() {
        let good = r#"{"version":1,"ephemeral_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"AAAA"}"#;
        let parsed: SealedKey = serde_json::from_str(good).unwrap();
        assert_eq!(parsed.ephemeral_public, [0u8; 32]);
        assert_eq!(parsed.ciphertext, vec![0u8; 3]);
        for bad in [
            // 31-byte key
            r#"{"version":1,"ephemeral_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"AAAA"}"#,
            // padded
            r#"{"version":1,"ephemeral_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","ciphertext":"AAAA"}"#,
            // standard (not url-safe) alphabet
            r#"{"version":1,"ephemeral_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"AA+/"}"#,
            // bytes instead of a string
            r#"{"version":1,"ephemeral_public":[0],"ciphertext":"AAAA"}"#,
            // missing field
            r#"{"version":1,"ciphertext":"AAAA"}"#,
        ] {
            assert!(serde_json::from_str::<SealedKey>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sealing_twice_differs() {
        let rk = SealRequestKey::generate().unwrap();
        let a = seal_to(&rk.public_key(), &ctx(1), &SECRET).unwrap();
        let b = seal_to(&rk.public_key(), &ctx(1), &SECRET).unwrap();
        assert_ne!(a.ephemeral_public, b.ephemeral_public);
        assert_ne!(a.ciphertext, b.ciphertext);
        // Both open for the recipient (it may only open one: `open` consumes the key).
        assert_eq!(rk.open(&b, &ctx(1)).unwrap().as_slice(), &SECRET);
    }

    /// Pins the documented HKDF/AES-GCM derivation. Expected bytes computed independently with
    /// Python `cryptography` (HKDF(SHA256, 32, salt, info).derive(shared), then
    /// AESGCM(key).encrypt(12 zero bytes, secret, context)).
    #[test]
    fn derivation_known_answer() {
        let shared: Vec<u8> = (0..32).collect();
        let sender = [0x11u8; 32];
        let recipient = [0x22u8; 32];
        let mut context = b"ward tenant key".to_vec();
        context.extend(0xa0..0xb0u8);
        context.extend_from_slice(&7u32.to_be_bytes());
        let mut buf: Vec<u8> = (0x40..0x60).collect();
        let key = derive_key(&shared, &sender, &recipient, &context).unwrap();
        key.seal_in_place_append_tag(zero_nonce(), Aad::from(&context), &mut buf)
            .unwrap();
        let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "d9eaa56da2caaadd715e9a969be7ec3723b42eab15aa7acd946252d8ed0a23f8\
             edad6f8b0c87791a862992c7b3a4383a"
        );
    }

    #[test]
    fn debug_shows_only_the_public_key() {
        let rk = SealRequestKey::generate().unwrap();
        let text = format!("{rk:?}");
        assert!(text.starts_with("SealRequestKey { public: ["), "{text}");
    }
}
