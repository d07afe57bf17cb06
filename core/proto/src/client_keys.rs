//! Client keys on the wire (ADR 0015): their release to a device, sealed to its one-time key,
//! and the registration of a key a device made for a client it created offline.
//!
//! A release payload is the concatenation of `client id (16) ‖ generation (u32 BE) ‖ key (32)`
//! entries (52 bytes each), sealed as one [`SealedKey`](crate::sealed::SealedKey) under
//! [`client_release_context`]. It lists every key of every client the caller's user may read
//! now; a device deletes the keys (and the data) of clients no longer listed.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ids::{ObjectId, TenantId};
use crate::keys::{ClientKey, KEY_LEN, SymmetricKey};

/// Bytes of one entry of a client-key release payload.
pub const CLIENT_ENTRY_LEN: usize = 16 + 4 + KEY_LEN;

/// The sealing context of a client-key release: binds the payload to this tenant and keeps it
/// apart from the tenant-key release.
pub fn client_release_context(tenant: TenantId) -> Vec<u8> {
    let mut c = b"ward client keys v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c
}

/// Encodes client keys as a release payload.
pub fn encode_client_key_payload<'a>(
    keys: impl IntoIterator<Item = (ObjectId, u32, &'a [u8])>,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    for (client, generation, key) in keys {
        out.extend_from_slice(client.as_bytes());
        out.extend_from_slice(&generation.to_be_bytes());
        out.extend_from_slice(key);
    }
    out
}

/// A client-key payload that is not a whole number of entries.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("client-key payload: {0}")]
pub struct ClientPayloadError(&'static str);

/// Decodes a client-key release payload.
pub fn decode_client_key_payload(payload: &[u8]) -> Result<Vec<ClientKey>, ClientPayloadError> {
    if !payload.len().is_multiple_of(CLIENT_ENTRY_LEN) {
        return Err(ClientPayloadError("length is not a whole number of keys"));
    }
    let mut keys = Vec::with_capacity(payload.len() / CLIENT_ENTRY_LEN);
    for chunk in payload.chunks_exact(CLIENT_ENTRY_LEN) {
        let mut id = [0u8; 16];
        id.copy_from_slice(&chunk[..16]);
        let mut generation = [0u8; 4];
        generation.copy_from_slice(&chunk[16..20]);
        let generation = u32::from_be_bytes(generation);
        if generation == 0 {
            return Err(ClientPayloadError("generation 0 is not a client key"));
        }
        let key = SymmetricKey::from_slice(&chunk[20..]).ok_or(ClientPayloadError("bad key"))?;
        keys.push(ClientKey {
            client: ObjectId::from_bytes(id),
            generation,
            key,
        });
    }
    Ok(keys)
}

/// A key a device made for a client it created (offline, or before its first sync), so the
/// data it sealed can be opened by the rest of the care team.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewClientKey {
    /// The client.
    pub client_id: ObjectId,
    /// Always 1: a device only ever makes a client's first key.
    pub generation: u32,
    /// The key, base64url (sent inside a device-signed request over TLS; the server wraps it
    /// at once and never stores it in clear).
    pub key: String,
}

/// `POST /v1/keys/clients`: registers first keys of clients this device created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterClientKeys {
    /// The keys, at most [`MAX_REGISTER`] per request.
    pub keys: Vec<NewClientKey>,
}

/// Most keys one registration may carry.
pub const MAX_REGISTER: usize = 500;

/// What became of each registered key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RegisteredClientKeys {
    /// Stored, or stored before by an earlier attempt of this same key.
    pub registered: Vec<ObjectId>,
    /// Refused, with why (the client has another first key, or the caller may not write it).
    pub refused: Vec<RefusedClientKey>,
}

/// A registration that was refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RefusedClientKey {
    /// The client.
    pub client_id: ObjectId,
    /// Why.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_and_refuses_partial_entries() {
        let a = ClientKey::generate(ObjectId::random(), 1).unwrap();
        let b = ClientKey::generate(ObjectId::random(), 7).unwrap();
        let p = encode_client_key_payload([
            (a.client, a.generation, &a.key.expose_secret()[..]),
            (b.client, b.generation, &b.key.expose_secret()[..]),
        ]);
        assert_eq!(p.len(), 2 * CLIENT_ENTRY_LEN);
        let keys = decode_client_key_payload(&p).unwrap();
        assert_eq!(keys[1].client, b.client);
        assert_eq!(keys[1].generation, 7);
        assert_eq!(keys[0].key.expose_secret(), a.key.expose_secret());
        assert!(decode_client_key_payload(&p[..p.len() - 1]).is_err());
        let mut zero = p.to_vec();
        zero[16..20].copy_from_slice(&0u32.to_be_bytes());
        assert!(decode_client_key_payload(&zero).is_err());
        assert!(decode_client_key_payload(&[]).unwrap().is_empty());
    }
}
