//! Device-signed API requests: every authenticated request from a phone carries an Ed25519
//! signature by the device's key over a canonical description of the request, so a stolen
//! bearer token alone is useless.
//!
//! The signed bytes ([`canonical_request`]) are seven fields joined by `\n`:
//!
//! ```text
//! ward-req-v1
//! <METHOD, ASCII-uppercased>
//! <path and query, exactly as sent in the request line: no decoding or re-encoding>
//! <lowercase hex SHA-256 of the body (of the empty string when there is none)>
//! <timestamp: milliseconds since the Unix epoch, decimal>
//! <nonce>
//! <session hint: e.g. the session id; may be empty>
//! ```
//!
//! No field may contain a control character (in particular `\n`), so fields cannot be shifted
//! into one another; method, path and nonce must not be empty. The signature travels unpadded
//! base64url in [`HEADER_SIGNATURE`], the timestamp and nonce in [`HEADER_TIMESTAMP`] and
//! [`HEADER_NONCE`], and the device id (which tells the server which public key to use) in
//! [`HEADER_DEVICE`]. The host is not signed: the key only ever talks to Ward's API. The server
//! must check all three of: [`verify_request`], [`check_freshness`] against its own clock, and
//! that the (device, nonce) pair is new. Nonce replay is the server's job: it must remember
//! each accepted nonce at least until `timestamp + max_skew` has passed on its clock (after
//! that [`check_freshness`] rejects the request anyway), so in practice for twice the skew
//! window. Private key bytes are held in [`Zeroizing`] storage; ring's own key copies and its
//! PKCS#8 document are not zeroized (ADR 0002).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::keys::fill_random;

/// Header carrying the base64url (unpadded) Ed25519 signature.
pub const HEADER_SIGNATURE: &str = "x-ward-signature";
/// Header carrying the signed timestamp, in milliseconds since the Unix epoch.
pub const HEADER_TIMESTAMP: &str = "x-ward-timestamp";
/// Header carrying the signed nonce.
pub const HEADER_NONCE: &str = "x-ward-nonce";
/// Header carrying the device id, which selects the public key to verify with.
pub const HEADER_DEVICE: &str = "x-ward-device";
/// First line of every canonical request of this format version.
pub const CANONICAL_V1: &str = "ward-req-v1";
/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a signature in unpadded base64url.
const SIGNATURE_B64_LEN: usize = 86;

/// Errors from signing or verifying requests.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    /// A request field is empty where it must not be, or contains a control character.
    #[error("request field `{0}` is empty or contains a control character")]
    InvalidField(&'static str),
    /// The signature is not 64 bytes of unpadded base64url.
    #[error("malformed signature (expected 64 bytes of unpadded base64url)")]
    MalformedSignature,
    /// The signature does not match the request and key.
    #[error("signature does not verify")]
    BadSignature,
    /// The PKCS#8 document is not a valid Ed25519 (v2) private key.
    #[error("invalid device key")]
    InvalidKey,
    /// The OS random generator failed.
    #[error("random number generator failed")]
    Random,
    /// The request's timestamp is older than the allowed skew.
    #[error("request timestamp is {age_ms} ms old, outside the allowed window")]
    TimestampTooOld {
        /// How far the timestamp lies behind the server's clock.
        age_ms: u64,
    },
    /// The request's timestamp lies further in the future than the allowed skew.
    #[error("request timestamp is {ahead_ms} ms in the future, outside the allowed window")]
    TimestampInFuture {
        /// How far the timestamp lies ahead of the server's clock.
        ahead_ms: u64,
    },
    /// The configured skew window is negative.
    #[error("invalid freshness window {0} ms")]
    InvalidWindow(i64),
}

/// The bytes a request signature covers (format in the module docs). Fails with
/// [`SigningError::InvalidField`] when a field contains a control character, or when the
/// method, path or nonce is empty.
pub fn canonical_request(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: i64,
    nonce: &str,
    session_hint: &str,
) -> Result<Vec<u8>, SigningError> {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(SigningError::InvalidField("method"));
    }
    check_field("path", path_and_query, false)?;
    check_field("nonce", nonce, false)?;
    check_field("session_hint", session_hint, true)?;
    let body_hash = digest(&SHA256, body);
    let mut out = Vec::with_capacity(
        CANONICAL_V1.len()
            + method.len()
            + path_and_query.len()
            + 64
            + 20
            + nonce.len()
            + session_hint.len()
            + 6,
    );
    for (i, field) in [
        CANONICAL_V1,
        &method.to_ascii_uppercase(),
        path_and_query,
        &hex(body_hash.as_ref()),
        &timestamp_ms.to_string(),
        nonce,
        session_hint,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(field.as_bytes());
    }
    Ok(out)
}

/// A fresh random nonce for [`HEADER_NONCE`]: 128 bits as 22 characters of base64url.
pub fn new_nonce() -> Result<String, SigningError> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes).map_err(|_| SigningError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A device's Ed25519 signing key.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl DeviceKey {
    /// A fresh key, with its PKCS#8 (v2) encoding for the caller to store (wrapped by the
    /// platform key store); [`DeviceKey::from_pkcs8`] loads it again.
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), SigningError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| SigningError::Random)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let key = Self::from_pkcs8(&pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Loads a key from its PKCS#8 v2 encoding (as made by [`DeviceKey::generate`]).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SigningError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| SigningError::InvalidKey)?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
        })
    }

    /// The PKCS#8 encoding, for re-wrapping in storage. Never log or persist it in clear.
    pub fn expose_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key the server verifies with (registered at enrollment).
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs `message` as is: only for messages that carry their own domain-separation
    /// prefix (ward-proto's wipe receipts), so a signature cannot pass for a request's.
    pub fn sign_message(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// Signs a request; the result goes in [`HEADER_SIGNATURE`].
    pub fn sign_request(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp_ms: i64,
        nonce: &str,
        session_hint: &str,
    ) -> Result<String, SigningError> {
        let message = canonical_request(
            method,
            path_and_query,
            body,
            timestamp_ms,
            nonce,
            session_hint,
        )?;
        Ok(URL_SAFE_NO_PAD.encode(self.pair.sign(&message)))
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &hex(&self.public_key()))
            .finish_non_exhaustive()
    }
}

/// Verifies a request signature made by [`DeviceKey::sign_request`]. Freshness and nonce
/// replay are checked separately ([`check_freshness`]; the nonce store is the server's).
#[allow(
    clippy::too_many_arguments,
    reason = "mirrors sign_request; the fields are what the server has at hand"
)]
pub fn verify_request(
    public_key: &[u8; PUBLIC_KEY_LEN],
    signature_b64: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: i64,
    nonce: &str,
    session_hint: &str,
) -> Result<(), SigningError> {
    if signature_b64.len() != SIGNATURE_B64_LEN {
        return Err(SigningError::MalformedSignature);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64.as_bytes())
        .map_err(|_| SigningError::MalformedSignature)?;
    if signature.len() != SIGNATURE_LEN {
        return Err(SigningError::MalformedSignature);
    }
    let message = canonical_request(
        method,
        path_and_query,
        body,
        timestamp_ms,
        nonce,
        session_hint,
    )?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&message, &signature)
        .map_err(|_| SigningError::BadSignature)
}

/// Accepts `timestamp_ms` when it lies within `max_skew_ms` (inclusive) of `now_ms` in either
/// direction. The server must also refuse a nonce it has already accepted from the device while
/// the timestamp it came with is still fresh.
pub fn check_freshness(
    timestamp_ms: i64,
    now_ms: i64,
    max_skew_ms: i64,
) -> Result<(), SigningError> {
    let max = u64::try_from(max_skew_ms).map_err(|_| SigningError::InvalidWindow(max_skew_ms))?;
    let diff = now_ms.abs_diff(timestamp_ms);
    if diff <= max {
        Ok(())
    } else if timestamp_ms < now_ms {
        Err(SigningError::TimestampTooOld { age_ms: diff })
    } else {
        Err(SigningError::TimestampInFuture { ahead_ms: diff })
    }
}

/// RFC 9110 `tchar`: the characters of an HTTP method token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_field(name: &'static str, value: &str, may_be_empty: bool) -> Result<(), SigningError> {
    if (value.is_empty() && !may_be_empty) || value.chars().any(char::is_control) {
        return Err(SigningError::InvalidField(name));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const BODY: &[u8] = br#"{"note":1}"#;

    struct Req {
        method: &'static str,
        path: &'static str,
        body: &'static [u8],
        ts: i64,
        nonce: &'static str,
        hint: &'static str,
    }

    const REQ: Req = Req {
        method: "POST",
        path: "/v1/objects/abc?tenant=t1&x=%2F",
        body: BODY,
        ts: NOW,
        nonce: "q0vR2m8cV1Zs4x9yKbE3Lw",
        hint: "sess-42",
    };

    fn sign(key: &DeviceKey, r: &Req) -> Result<String, SigningError> {
        key.sign_request(r.method, r.path, r.body, r.ts, r.nonce, r.hint)
    }

    fn verify(pk: &[u8; 32], sig: &str, r: &Req) -> Result<(), SigningError> {
        verify_request(pk, sig, r.method, r.path, r.body, r.ts, r.nonce, r.hint)
    }

    #[test]
    fn canonical_encoding_is_pinned() {
        let c = canonical_request("post", "/v1/x?a=1", BODY, NOW, "n1", "s1").unwrap();
        assert_eq!(
            String::from_utf8(c).unwrap(),
            "ward-req-v1\nPOST\n/v1/x?a=1\n\
             b11c1b258396ebec25aa4ab2595478a8212760eeef58ddc94932e0cb1d7bf305\n\
             1700000000000\nn1\ns1"
        );
        let c = canonical_request("GET", "/", b"", -5, "n", "").unwrap();
        assert_eq!(
            String::from_utf8(c).unwrap(),
            "ward-req-v1\nGET\n/\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n-5\nn\n"
        );
    }

    #[test]
    fn sign_verify_round_trip() {
        let (key, _) = DeviceKey::generate().unwrap();
        let sig = sign(&key, &REQ).unwrap();
        assert_eq!(sig.len(), 86);
        assert_eq!(verify(&key.public_key(), &sig, &REQ), Ok(()));
        // The method is normalised to upper case on both sides.
        let lower = Req {
            method: "post",
            ..REQ
        };
        assert_eq!(verify(&key.public_key(), &sig, &lower), Ok(()));
        // Empty body and empty session hint are fine.
        let bare = Req {
            body: b"",
            hint: "",
            ..REQ
        };
        let sig = sign(&key, &bare).unwrap();
        assert_eq!(verify(&key.public_key(), &sig, &bare), Ok(()));
    }

    #[test]
    fn any_changed_field_fails() {
        let (key, _) = DeviceKey::generate().unwrap();
        let pk = key.public_key();
        let sig = sign(&key, &REQ).unwrap();
        let changed = [
            Req {
                method: "PUT",
                ..REQ
            },
            Req {
                path: "/v1/objects/abd?tenant=t1&x=%2F",
                ..REQ
            },
            Req {
                path: "/v1/objects/abc?tenant=t1&x=/",
                ..REQ
            },
            Req {
                path: "/v1/objects/abc",
                ..REQ
            },
            Req {
                body: br#"{"note":2}"#,
                ..REQ
            },
            Req { body: b"", ..REQ },
            Req { ts: NOW + 1, ..REQ },
            Req {
                nonce: "q0vR2m8cV1Zs4x9yKbE3Lx",
                ..REQ
            },
            Req {
                hint: "sess-43",
                ..REQ
            },
            Req { hint: "", ..REQ },
        ];
        for r in &changed {
            assert_eq!(verify(&pk, &sig, r), Err(SigningError::BadSignature));
        }
    }

    #[test]
    fn another_key_fails() {
        let (key, _) = DeviceKey::generate().unwrap();
        let (other, _) = DeviceKey::generate().unwrap();
        let sig = sign(&key, &REQ).unwrap();
        assert_eq!(
            verify(&other.public_key(), &sig, &REQ),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            verify(&[0u8; 32], &sig, &REQ),
            Err(SigningError::BadSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_errors() {
        let (key, _) = DeviceKey::generate().unwrap();
        let pk = key.public_key();
        let good = sign(&key, &REQ).unwrap();
        let b64 = |n: usize| URL_SAFE_NO_PAD.encode(vec![7u8; n]);
        let malformed = [
            String::new(),
            "!!!".to_owned(),
            b64(63),
            b64(65),
            b64(32),
            format!("{good}=="),
            format!("+{}", &good[1..]), // standard, not url-safe, alphabet
            format!("{}é", &good[..84]),
            format!("{}*", &good[..85]),
            "A".repeat(1 << 16),
            // Right length, but the last character has non-zero trailing bits (non-canonical).
            format!("{}B", &good[..85]),
        ];
        for sig in &malformed {
            assert_eq!(
                verify(&pk, sig, &REQ),
                Err(SigningError::MalformedSignature),
                "{sig:?}"
            );
        }
        // Well-formed but wrong.
        let mut flipped = good.into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(verify(&pk, &flipped, &REQ), Err(SigningError::BadSignature));
        assert_eq!(verify(&pk, &b64(64), &REQ), Err(SigningError::BadSignature));
    }

    #[test]
    fn newline_and_control_injection_is_rejected() {
        let (key, _) = DeviceKey::generate().unwrap();
        let pk = key.public_key();
        let sig = sign(&key, &REQ).unwrap();
        let bad = [
            (
                Req {
                    method: "GET\n/x",
                    ..REQ
                },
                "method",
            ),
            (
                Req {
                    method: "GE T",
                    ..REQ
                },
                "method",
            ),
            (Req { method: "", ..REQ }, "method"),
            (
                Req {
                    path: "/a\n/b",
                    ..REQ
                },
                "path",
            ),
            (
                Req {
                    path: "/a\r",
                    ..REQ
                },
                "path",
            ),
            (
                Req {
                    path: "/a\0",
                    ..REQ
                },
                "path",
            ),
            (Req { path: "", ..REQ }, "path"),
            (
                Req {
                    nonce: "n\nsess-42",
                    ..REQ
                },
                "nonce",
            ),
            (
                Req {
                    nonce: "n\u{85}",
                    ..REQ
                },
                "nonce",
            ),
            (Req { nonce: "", ..REQ }, "nonce"),
            (Req { hint: "\n", ..REQ }, "session_hint"),
            (
                Req {
                    hint: "s\u{7f}",
                    ..REQ
                },
                "session_hint",
            ),
        ];
        for (r, field) in &bad {
            let expected = Err(SigningError::InvalidField(field));
            assert_eq!(sign(&key, r).map(drop), expected);
            assert_eq!(verify(&pk, &sig, r), expected);
            assert_eq!(
                canonical_request(r.method, r.path, r.body, r.ts, r.nonce, r.hint).map(drop),
                expected
            );
        }
        // The shift the check prevents: without it these two would encode identically.
        assert!(canonical_request("GET", "/a", b"", 1, "n\nx", "").is_err());
        assert!(canonical_request("GET", "/a", b"", 1, "n", "x").is_ok());
    }

    #[test]
    fn freshness_window_edges() {
        let skew = 300_000;
        assert_eq!(check_freshness(NOW, NOW, skew), Ok(()));
        assert_eq!(check_freshness(NOW - skew, NOW, skew), Ok(()));
        assert_eq!(check_freshness(NOW + skew, NOW, skew), Ok(()));
        assert_eq!(
            check_freshness(NOW - skew - 1, NOW, skew),
            Err(SigningError::TimestampTooOld { age_ms: 300_001 })
        );
        assert_eq!(
            check_freshness(NOW + skew + 1, NOW, skew),
            Err(SigningError::TimestampInFuture { ahead_ms: 300_001 })
        );
        assert_eq!(check_freshness(NOW, NOW, 0), Ok(()));
        assert!(check_freshness(NOW + 1, NOW, 0).is_err());
        assert!(check_freshness(NOW - 1, NOW, 0).is_err());
        assert_eq!(
            check_freshness(NOW, NOW, -1),
            Err(SigningError::InvalidWindow(-1))
        );
        // Extremes do not overflow.
        assert_eq!(
            check_freshness(i64::MIN, i64::MAX, skew),
            Err(SigningError::TimestampTooOld { age_ms: u64::MAX })
        );
        assert_eq!(
            check_freshness(i64::MAX, i64::MIN, skew),
            Err(SigningError::TimestampInFuture { ahead_ms: u64::MAX })
        );
        assert_eq!(
            check_freshness(i64::MIN, i64::MAX, i64::MAX),
            Err(SigningError::TimestampTooOld { age_ms: u64::MAX })
        );
        assert_eq!(check_freshness(i64::MAX, i64::MAX, 0), Ok(()));
    }

    #[test]
    fn pkcs8_reload_keeps_the_key() {
        let (key, pkcs8) = DeviceKey::generate().unwrap();
        let loaded = DeviceKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert_eq!(loaded.expose_pkcs8(), pkcs8.as_slice());
        let sig = sign(&loaded, &REQ).unwrap();
        assert_eq!(verify(&key.public_key(), &sig, &REQ), Ok(()));
        // Ed25519 is deterministic: same key, same request, same signature.
        assert_eq!(sig, sign(&key, &REQ).unwrap());
        assert_eq!(
            DeviceKey::from_pkcs8(b"not a key").map(drop),
            Err(SigningError::InvalidKey)
        );
        assert_eq!(
            DeviceKey::from_pkcs8(&pkcs8[..pkcs8.len() - 1]).map(drop),
            Err(SigningError::InvalidKey)
        );
        let text = format!("{key:?}");
        assert!(text.starts_with("DeviceKey { public: \""), "{text}");
        assert!(!text.contains(&hex(&pkcs8[16..48])), "{text}"); // the seed
    }

    #[test]
    fn nonces_are_fresh() {
        let a = new_nonce().unwrap();
        let b = new_nonce().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert_eq!(check_field("nonce", &a, false), Ok(()));
    }
}
