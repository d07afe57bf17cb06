//! The audit event and its hash chain, shared so the phone writes and the backend verifies the
//! same bytes.
//!
//! Each device keeps its own chain: event `n` stores `hash_n = SHA-256(hash_{n-1} ‖ encode(n))`
//! with an all-zero hash before the first event. A deleted, inserted, reordered or edited event
//! breaks every later hash. Events carry ids only (who, which device, what action, which
//! object and client, when) — never clinical content — so the server can verify and keep them
//! without being able to read any record.

use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, ObjectId};

/// Hash of the (absent) event before the first one.
pub const GENESIS: [u8; 32] = [0; 32];

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AuditEvent {
    /// Position in the device's chain, from 1.
    pub seq: u64,
    /// When, in ms since the Unix epoch (device clock).
    pub at_ms: i64,
    /// Who acted (user id).
    pub actor: String,
    /// On which device.
    pub device: DeviceId,
    /// What was done: create, view, update, sign, amend, export, withdraw, unlock, …
    pub action: String,
    /// Kind of object (envelope kind number), if any.
    pub kind: Option<u8>,
    /// The object acted on, if any.
    pub object: Option<ObjectId>,
    /// The client concerned, if any.
    pub client: Option<ObjectId>,
}

impl AuditEvent {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.at_ms.to_be_bytes());
        for s in [&self.actor, &self.action] {
            b.extend_from_slice(&(s.len() as u32).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(self.device.as_bytes());
        b.push(self.kind.unwrap_or(0));
        for id in [self.object, self.client] {
            match id {
                Some(id) => {
                    b.push(1);
                    b.extend_from_slice(id.as_bytes());
                }
                None => b.push(0),
            }
        }
        b
    }

    /// This event's chain hash given the previous event's hash.
    pub fn chain_hash(&self, prev: &[u8; 32]) -> [u8; 32] {
        let mut input = prev.to_vec();
        input.extend_from_slice(&self.encode());
        let d = digest(&SHA256, &input);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// Where a chain stops being valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A sequence number is missing or out of order (a gap).
    #[error("gap before seq {seq}: expected seq {expected}")]
    Gap {
        /// The sequence number found.
        seq: u64,
        /// The one expected.
        expected: u64,
    },
    /// A stored hash does not match the recomputed one (edited or inserted event).
    #[error("hash mismatch at seq {seq}")]
    Broken {
        /// The first event whose hash is wrong.
        seq: u64,
    },
}

/// Verifies `events` (with their stored hashes) continue a chain from `(prev_seq, prev_hash)`.
/// Returns the last hash on success.
pub fn verify_chain<'a>(
    prev_seq: u64,
    prev_hash: [u8; 32],
    events: impl IntoIterator<Item = (&'a AuditEvent, &'a [u8; 32])>,
) -> Result<[u8; 32], ChainError> {
    let mut prev = prev_hash;
    for (expected, (event, stored)) in (prev_seq + 1..).zip(events) {
        if event.seq != expected {
            return Err(ChainError::Gap {
                seq: event.seq,
                expected,
            });
        }
        let h = event.chain_hash(&prev);
        if &h != stored {
            return Err(ChainError::Broken { seq: event.seq });
        }
        prev = h;
    }
    Ok(prev)
}

/// Most events in one upload (`POST /v1/tenants/{t}/audit/events`).
pub const MAX_UPLOAD_EVENTS: usize = 500;

/// An event as a device uploads it: the event and its chain hash (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UploadedEvent {
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Its chain hash, lowercase hex of 32 bytes.
    pub hash: String,
}

impl UploadedEvent {
    /// The event with its hash in hex.
    pub fn new(event: AuditEvent, hash: &[u8; 32]) -> Self {
        Self {
            event,
            hash: hex_lower(hash),
        }
    }

    /// The hash as bytes, if it is 64 hex digits.
    pub fn hash_bytes(&self) -> Option<[u8; 32]> {
        let h = self.hash.as_bytes();
        if h.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in h.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(out)
    }
}

/// Lowercase hex of bytes.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A contiguous segment of a device's chain, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AuditUpload {
    /// The events, in increasing `seq`.
    pub events: Vec<UploadedEvent>,
}

/// Why the server flagged an uploaded event (it is stored all the same: never dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChainFlag {
    /// Events are missing before this one (its `seq` jumps past the server's last one).
    Gap,
    /// Its hash does not follow from the previous event (edited, inserted or reordered).
    Break,
    /// It names another device or another user than the uploading session's.
    Foreign,
    /// An event with this `seq` was already accepted with a different hash (a rewritten
    /// history); the new version is recorded in the server's audit, not in the chain.
    Fork,
    /// It fills an earlier gap (arrived after later events).
    Late,
}

impl ChainFlag {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainFlag::Gap => "gap",
            ChainFlag::Break => "break",
            ChainFlag::Foreign => "foreign",
            ChainFlag::Fork => "fork",
            ChainFlag::Late => "late",
        }
    }
}

/// One flagged event in an upload's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct FlaggedEvent {
    /// Its `seq`.
    pub seq: u64,
    /// Why.
    pub flag: ChainFlag,
    /// Details (expected seq, …).
    pub detail: String,
}

/// The answer to an upload: every event is either newly stored (possibly flagged) or was
/// already stored, so the device may mark all of them synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AuditUploadResult {
    /// Events newly stored.
    pub accepted: u32,
    /// Events already stored with the same hash (a retried upload).
    pub duplicates: u32,
    /// Events stored with a flag, and forks (recorded, not stored in the chain).
    pub flagged: Vec<FlaggedEvent>,
    /// The server's last `seq` of this device's chain.
    pub head_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<(AuditEvent, [u8; 32])> {
        let device = DeviceId::random();
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = AuditEvent {
                    seq,
                    at_ms: 1000 + seq as i64,
                    actor: "u1".into(),
                    device,
                    action: "view".into(),
                    kind: Some(2),
                    object: Some(ObjectId::random()),
                    client: None,
                };
                prev = e.chain_hash(&prev);
                (e, prev)
            })
            .collect()
    }

    #[test]
    fn detects_edits_gaps_and_reorders() {
        let c = chain(5);
        let ok = verify_chain(0, GENESIS, c.iter().map(|(e, h)| (e, h)));
        assert_eq!(ok, Ok(c[4].1));
        let mut edited = c.clone();
        edited[2].0.action = "create".into();
        assert_eq!(
            verify_chain(0, GENESIS, edited.iter().map(|(e, h)| (e, h))),
            Err(ChainError::Broken { seq: 3 })
        );
        let mut gap = c.clone();
        gap.remove(1);
        assert_eq!(
            verify_chain(0, GENESIS, gap.iter().map(|(e, h)| (e, h))),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );
        // An uploaded event's hash round-trips through hex.
        let up = UploadedEvent::new(c[0].0.clone(), &c[0].1);
        assert_eq!(up.hash_bytes(), Some(c[0].1));
        let json = serde_json::to_value(&up).unwrap();
        assert_eq!(json["seq"], 1);
        assert_eq!(serde_json::from_value::<UploadedEvent>(json).unwrap(), up);
        assert_eq!(
            UploadedEvent {
                hash: "zz".repeat(32),
                ..up
            }
            .hash_bytes(),
            None
        );
        // A suffix verifies from its predecessor.
        assert!(verify_chain(2, c[1].1, c[2..].iter().map(|(e, h)| (e, h))).is_ok());
    }
}
