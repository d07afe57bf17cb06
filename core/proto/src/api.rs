//! The JSON bodies of the sync API, shared by the backend (which serves them) and the phone
//! core's sync client (which sends and reads them), so the two cannot drift apart.
//!
//! Only the bodies both sides build or parse live here; the WebAuthn credential payloads stay
//! as the webauthn-rs types on the backend and as the platform's JSON on the phone. Byte fields
//! travel as base64url without padding.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, ObjectId, VersionId};
use crate::sealed::SealedKey;

pub use crate::policy::{EXIF_TAGS, TenantPolicy, exif_tag};

/// Path prefix of every tenant-scoped endpoint: `/v1/tenants/{tenant}`.
pub const TENANT_PREFIX: &str = "/v1/tenants";
/// Lambda's payload limit is 6 MB; requests are kept under this.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Most objects in one push.
pub const MAX_PUSH_OBJECTS: usize = 2000;
/// The largest envelope pushed inline (notes, client records, consents, photo metadata): one
/// limit on every adapter, set by DynamoDB's 400 KB item cap with room for the item's other
/// attributes. Larger content (photos) is uploaded as a blob.
pub const MAX_INLINE_ENVELOPE_BYTES: usize = 350 * 1024;
/// Most objects in one pull page.
pub const MAX_PULL_LIMIT: u32 = 1000;
/// A pull page stops adding envelopes past this many (base64) bytes, so a response stays
/// under Lambda's 6 MB payload limit however large the envelopes are.
pub const MAX_PULL_BYTES: usize = 4 * 1024 * 1024;
/// Most feed rows one pull request looks at (rows the caller may not read, or its own with
/// `exclude_own=1`, are skipped without filling the page).
pub const MAX_PULL_SCAN: usize = 20_000;
/// Photo envelopes are uploaded in parts of this size (the last may be shorter).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages staff, devices, policies; reads everything.
    Admin,
    /// Reads the clients on whose care team they are.
    Clinician,
    /// Scheduling-level identity only.
    FrontDesk,
}

/// Device lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Enrolled, awaiting admin approval: no tenant key, no data.
    Pending,
    /// Approved.
    Active,
    /// Revoked: sessions dead, wipe queued.
    Revoked,
    /// Wipe receipt received.
    Wiped,
}

/// Start of enrollment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EnrollStart {
    /// The invite code.
    pub invite_code: String,
    /// Name for the passkey (e.g. the person's email or name).
    pub user_name: String,
}

/// A ceremony's challenge for the authenticator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CeremonyStarted {
    /// Id to send back with the finish call.
    pub ceremony_id: String,
    /// WebAuthn options (CreationChallengeResponse / RequestChallengeResponse JSON).
    pub options: serde_json::Value,
}

/// The device being enrolled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NewDevice {
    /// Device id minted by the device.
    pub device_id: DeviceId,
    /// Its Ed25519 public key (base64url).
    pub public_key: String,
    /// Human name.
    pub name: String,
    /// What kind of device: a phone (default), a console browser, the CLI. Console sessions
    /// end after the clinic's idle timeout.
    #[serde(default)]
    pub platform: crate::people::Platform,
}

/// A new session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SessionGrant {
    /// The user.
    pub user_id: uuid::Uuid,
    /// Role.
    pub role: Role,
    /// The device and its state.
    pub device_id: DeviceId,
    /// Pending until an admin approves it.
    pub device_status: DeviceStatus,
    /// Session id (header `x-ward-session`).
    pub session_id: String,
    /// Bearer token (shown once).
    pub token: String,
    /// Expiry.
    pub expires_at_ms: i64,
    /// The tenant's wipe-command key (Ed25519, base64url): the device pins it at enrollment
    /// and executes only wipe commands signed by it.
    #[serde(default)]
    pub wipe_public_key: Option<String>,
}

/// Start of login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct LoginStart {
    /// The user (the app stores it at enrollment).
    pub user_id: uuid::Uuid,
}

/// Request for the tenant keys: the device's one-time public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ReleaseRequest {
    /// X25519 public key, base64url.
    pub ephemeral_public: String,
    /// Clients this device holds and needs a key for (to seal new data) that has none yet: the
    /// server makes a first key for each the caller may write (older clients, written before
    /// client keys existed, have none until someone asks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensure: Vec<crate::ObjectId>,
    /// A second one-time X25519 public key (base64url) for the client keys: an X25519 key
    /// agrees once. Without it (older apps) no client key is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ephemeral_public: Option<String>,
}

/// The tenant keys, sealed to the requester's one-time key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Released {
    /// Current epoch (seal new data under it).
    pub current_epoch: u32,
    /// Epochs included, in the order they appear in the sealed payload.
    pub epochs: Vec<u32>,
    /// `epoch (4 bytes BE) ‖ key (32 bytes)` for each epoch, sealed as one payload.
    #[cfg_attr(feature = "schemars", schemars(with = "serde_json::Value"))]
    pub sealed: SealedKey,
    /// Every key of every client the caller's user may read now
    /// ([`crate::client_keys`]), sealed to `client_ephemeral_public`; absent from servers older
    /// than client keys. A device deletes the keys, and the data, of clients not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<serde_json::Value>"))]
    pub client_keys: Option<SealedKey>,
}

/// The sealing context of a key release: binds the payload to this tenant.
pub fn release_context(tenant: crate::TenantId) -> Vec<u8> {
    let mut c = b"ward tenant keys v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c
}

/// Bytes of one epoch's entry in a key-release payload: `epoch (u32 BE) ‖ key (32 bytes)`.
pub const RELEASE_ENTRY_LEN: usize = 4 + crate::keys::KEY_LEN;

/// Encodes the plaintext of a key release: each key (32 bytes) as `epoch (u32 BE) ‖ key`, in
/// order.
pub fn encode_release_payload<'a>(
    keys: impl IntoIterator<Item = (u32, &'a [u8])>,
) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::new());
    for (epoch, key) in keys {
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(key);
    }
    out
}

/// A key-release payload that is not a whole number of entries, or disagrees with `epochs`.
#[derive(Debug, thiserror::Error)]
#[error("key-release payload: {0}")]
pub struct ReleasePayloadError(&'static str);

/// Decodes a key-release payload; `epochs` (from [`Released::epochs`]) must list the same
/// epochs in the same order.
pub fn decode_release_payload(
    payload: &[u8],
    epochs: &[u32],
) -> Result<Vec<crate::TenantKey>, ReleasePayloadError> {
    if !payload.len().is_multiple_of(RELEASE_ENTRY_LEN) {
        return Err(ReleasePayloadError("length is not a whole number of keys"));
    }
    if payload.len() / RELEASE_ENTRY_LEN != epochs.len() {
        return Err(ReleasePayloadError(
            "number of keys differs from the epochs listed",
        ));
    }
    let mut keys = Vec::with_capacity(epochs.len());
    for (chunk, listed) in payload.chunks_exact(RELEASE_ENTRY_LEN).zip(epochs) {
        let mut epoch = [0u8; 4];
        epoch.copy_from_slice(&chunk[..4]);
        let epoch = u32::from_be_bytes(epoch);
        if epoch != *listed {
            return Err(ReleasePayloadError("epochs differ from the epochs listed"));
        }
        let key = crate::SymmetricKey::from_slice(&chunk[4..])
            .ok_or(ReleasePayloadError("bad key length"))?;
        keys.push(crate::TenantKey { epoch, key });
    }
    Ok(keys)
}

/// One pushed version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PushItem {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Envelope kind number.
    pub kind: u8,
    /// Client (required except for client records, whose client is themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ObjectId>,
    /// Parent version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_version: Option<VersionId>,
    /// The envelope, base64url.
    pub envelope: String,
    /// On a client record's first version only: the clinicians assigned to treat the new
    /// client (front desk registers a patient and assigns them in one step). Each must be an
    /// active clinician; the pusher needs the right to manage that client's team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Vec<uuid::Uuid>>,
}

/// A push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Versions to store.
    pub objects: Vec<PushItem>,
}

/// What happened to one pushed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Stored.
    Created,
    /// Already stored with the same bytes (an idempotent retry).
    Duplicate,
    /// Different bytes are stored for this version: refused.
    Conflict,
    /// Refused (see `reason`).
    Rejected,
}

/// Outcome for one pushed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PushResult {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// What happened.
    pub status: PushStatus,
    /// Feed position when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A pulled version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PulledObject {
    /// Feed position.
    pub seq: u64,
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Kind number.
    pub kind: u8,
    /// Client.
    pub client_id: Option<ObjectId>,
    /// Parent version.
    pub parent_version: Option<VersionId>,
    /// Envelope, base64url (absent for photo content: download with a presigned URL).
    pub envelope: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PullPage {
    /// Versions the caller may read, in feed order.
    pub objects: Vec<PulledObject>,
    /// Cursor for the next call.
    pub next_after: u64,
    /// Whether more may follow.
    pub has_more: bool,
    /// The tenant's current key epoch: a device holding an older one fetches the keys again
    /// (after a revocation rotated them) before it seals new data.
    #[serde(default)]
    pub key_epoch: Option<u32>,
    /// [`TenantPolicy::tag`] of the clinic's current policy: a device holding another one
    /// fetches it (`/me`) and applies it.
    #[serde(default)]
    pub policy_tag: Option<String>,
    /// [`crate::people::MyClients::tag`] of the caller's current access (care teams and
    /// break-glass grants): a device holding another one fetches `/me/clients` and drops the
    /// clients it may no longer read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_tag: Option<String>,
}

/// Start or resume a photo upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UploadStart {
    /// Photo object.
    pub object_id: ObjectId,
    /// Content version.
    pub version_id: VersionId,
    /// The client photographed.
    pub client_id: ObjectId,
    /// Envelope size in bytes.
    pub size: u64,
}

/// A part still to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PartUrl {
    /// Part number (from 1).
    pub number: u32,
    /// Byte range start in the envelope.
    pub offset: u64,
    /// Bytes in this part.
    pub length: u64,
    /// PUT here.
    pub url: String,
}

/// The upload plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UploadPlan {
    /// Part size.
    pub part_size: u64,
    /// Parts the server already has (skip them).
    pub done: Vec<u32>,
    /// Parts to send.
    pub parts: Vec<PartUrl>,
    /// The upload was already completed (a retry after a lost answer or a killed app): the
    /// photo is stored; nothing to send or complete.
    #[serde(default)]
    pub completed: bool,
}

/// Finish an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UploadComplete {
    /// Photo object.
    pub object_id: ObjectId,
    /// Content version.
    pub version_id: VersionId,
}

/// Ask for a download URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DownloadRequest {
    /// Photo object.
    pub object_id: ObjectId,
    /// Content version.
    pub version_id: VersionId,
}

/// A JSON error body: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// With `410 wipe_required`: the signed wipe command the device must execute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe: Option<crate::wipe::SignedWipe>,
}

/// A stable error code and a human message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: crate::errors::ErrorCode,
    /// Human message.
    pub message: String,
}

/// Who the caller is (`GET .../me`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Me {
    /// User.
    pub user_id: uuid::Uuid,
    /// Role.
    pub role: Role,
    /// Device.
    pub device_id: DeviceId,
    /// Device state.
    pub device_status: DeviceStatus,
    /// Tenant key epoch new data should use.
    pub current_epoch: u32,
    /// The clinic's policies (lease, idle lock, consent, EXIF, rescue on wipe).
    #[serde(default)]
    pub policy: TenantPolicy,
}

/// A record version a revoked device rescued before its wipe, awaiting an admin's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct QuarantineItem {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Kind code.
    pub kind: u8,
    /// Client it belongs to.
    pub client_id: Option<ObjectId>,
    /// Parent version.
    pub parent_version: Option<VersionId>,
    /// The device that rescued it.
    pub device_id: DeviceId,
    /// When it arrived.
    pub received_at_ms: i64,
    /// `pending`, `accepted` or `rejected`.
    pub status: QuarantineStatus,
    /// When an admin decided.
    pub decided_at_ms: Option<i64>,
    /// The envelope, base64url.
    pub envelope: String,
}

/// An admin's decision on a quarantined version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuarantineStatus {
    /// Not decided yet.
    Pending,
    /// Entered the record.
    Accepted,
    /// Discarded.
    Rejected,
}

/// A presigned download (`POST .../downloads`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DownloadUrl {
    /// GET here.
    pub url: String,
    /// Envelope size in bytes.
    pub size: u64,
    /// Seconds the URL stays valid.
    pub expires_in_s: u32,
}

#[cfg(test)]
mod release_tests {
    use super::*;

    #[test]
    fn a_release_payload_round_trips_and_refuses_mismatches() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let p = encode_release_payload([(1, &a[..]), (2, &b[..])]);
        assert_eq!(p.len(), 2 * RELEASE_ENTRY_LEN);
        assert_eq!(&p[..4], &1u32.to_be_bytes());
        let keys = decode_release_payload(&p, &[1, 2]).unwrap();
        assert_eq!(keys[1].epoch, 2);
        assert_eq!(keys[1].key.expose_secret(), &b);
        assert!(decode_release_payload(&p, &[1]).is_err());
        assert!(decode_release_payload(&p, &[2, 1]).is_err());
        assert!(decode_release_payload(&p[..p.len() - 1], &[1, 2]).is_err());
    }
}
