//! The records the backend stores. Every record carries its tenant; the storage ports take the
//! tenant as a separate, required argument and build every key from it (DESIGN property 7).
//!
//! Nothing here holds clinical content: objects are opaque envelopes (ciphertext), tenant keys
//! are stored only wrapped (KMS or the local master key), session tokens only as hashes.

use serde::{Deserialize, Serialize};
use ward_proto::{DeviceId, NoteState, ObjectId, TenantId, VersionId};

pub use ward_proto::people::{BreakGlassGrant, Platform};

pub use ward_proto::api::{DeviceStatus, QuarantineItem, QuarantineStatus, Role, TenantPolicy};
pub use ward_proto::wipe::{SignedReceipt, SignedWipe};

/// A tenant (clinic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// The tenant's own key-encryption key: a KMS key id, or "local" in embedded mode.
    pub key_ref: String,
    /// Current tenant-key epoch (new data is sealed under it).
    pub current_epoch: u32,
    /// Creation time.
    pub created_at_ms: i64,
    /// The wipe-command signing key (seed wrapped under the tenant's KEK, public half in
    /// clear). Tenants created before remote wipe existed have none until rotated in.
    #[serde(default)]
    pub wipe_key: Option<WipeKey>,
    /// The clinic's policies.
    #[serde(default)]
    pub policy: TenantPolicy,
    /// When the clinic was offboarded (exported, then its key shredded): refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarded_at_ms: Option<i64>,
}

/// The tenant's Ed25519 wipe-command key: devices pin `public_key` at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeKey {
    /// The 32-byte seed, wrapped like a tenant key (KMS ciphertext or local sealed form).
    pub wrapped_seed: Vec<u8>,
    /// Public key, unpadded base64url.
    pub public_key: String,
    /// Wrapped under the purpose-bound context (`KeyPurpose::WipeSeed`); `false` for seeds
    /// wrapped before purposes existed (tenant-only context).
    #[serde(default)]
    pub purpose_bound: bool,
}

impl WipeKey {
    /// The context the seed was wrapped under.
    pub fn purpose(&self) -> crate::store::KeyPurpose {
        if self.purpose_bound {
            crate::store::KeyPurpose::WipeSeed
        } else {
            crate::store::KeyPurpose::Legacy
        }
    }
}

/// A device's remote wipe: the queued command and, once the device reports, its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WipeState {
    /// The command's id.
    pub command_id: String,
    /// When it was issued (the revocation).
    pub issued_at_ms: i64,
    /// Whether the device rescues unsynced records to quarantine first.
    pub rescue: bool,
    /// The signed command, as sent to the device.
    pub signed: SignedWipe,
    /// The device's receipt, once it wiped.
    pub receipt: Option<WipeReceiptRecord>,
}

/// A verified wipe receipt as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WipeReceiptRecord {
    /// When the device shredded its vault (device clock).
    pub wiped_at_ms: i64,
    /// When the backend received the receipt.
    pub received_at_ms: i64,
    /// Versions rescued to quarantine.
    pub rescued_versions: u32,
    /// Photos lost with the vault (never uploaded).
    pub unrescued_photos: u32,
    /// The device-signed receipt, kept as evidence.
    pub signed: SignedReceipt,
}

/// A tenant key of one epoch, stored only wrapped under the tenant's own KEK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedTenantKey {
    /// Epoch.
    pub epoch: u32,
    /// The wrapped key (a KMS ciphertext blob, or the local sealed form).
    pub wrapped: Vec<u8>,
    /// When created.
    pub created_at_ms: i64,
    /// Wrapped under the purpose-bound context (`KeyPurpose::TenantKey` with this epoch);
    /// `false` for keys wrapped before purposes existed (tenant-only context).
    #[serde(default)]
    pub purpose_bound: bool,
}

/// The reserved epoch of the client-wrapping key among a tenant's wrapped keys (ADR 0015):
/// tenant key epochs start at 1, so this one is never released as a tenant key.
pub const CLIENT_WRAP_EPOCH: u32 = 0;

impl WrappedTenantKey {
    /// The context the key was wrapped under.
    pub fn purpose(&self) -> crate::store::KeyPurpose {
        if self.epoch == CLIENT_WRAP_EPOCH {
            crate::store::KeyPurpose::ClientWrap
        } else if self.purpose_bound {
            crate::store::KeyPurpose::TenantKey { epoch: self.epoch }
        } else {
            crate::store::KeyPurpose::Legacy
        }
    }
}

/// A staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id (also the WebAuthn user handle).
    pub user_id: uuid::Uuid,
    /// Name shown in the console and in audit views.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When created.
    pub created_at_ms: i64,
    /// When deactivated (a leaver): never signs in again; history kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at_ms: Option<i64>,
}

impl User {
    /// Whether the user may still sign in and be given access.
    pub fn active(&self) -> bool {
        self.deactivated_at_ms.is_none()
    }
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    /// Owner.
    pub user_id: uuid::Uuid,
    /// Credential id (base64url), unique per tenant.
    pub credential_id: String,
    /// The webauthn-rs `Passkey`, serialised.
    pub passkey: serde_json::Value,
    /// When registered.
    pub created_at_ms: i64,
}

/// A single-use invitation to enroll with a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// SHA-256 of the invite code (the code itself is never stored).
    pub code_hash: String,
    /// Role granted.
    pub role: Role,
    /// Name of the invitee.
    pub display_name: String,
    /// Who invited.
    pub created_by: String,
    /// Whether the enrolling device is active at once (only the first admin's setup code).
    #[serde(default)]
    pub auto_approve_device: bool,
    /// A device invite: enrolls another device of this existing user (role and name are
    /// theirs), not a new user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<uuid::Uuid>,
    /// Expiry.
    pub expires_at_ms: i64,
}

/// Server-side state of a WebAuthn ceremony, consumed once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ceremony {
    /// Random id handed to the client.
    pub id: String,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// webauthn-rs state, serialised.
    pub state: serde_json::Value,
    /// Expiry.
    pub expires_at_ms: i64,
}

/// Why a ceremony was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CeremonyPurpose {
    /// Enrollment: registering the first passkey of an invited user, or another device's
    /// passkey of an existing one (a device invite).
    Register {
        /// The user being created (its role comes from the invite at finish), or the existing
        /// user a device invite names.
        user: User,
        /// Hash of the invite code it redeems (consumed at finish).
        invite_hash: String,
    },
    /// Login.
    Login,
    /// Step-up re-authentication of an existing session.
    StepUp {
        /// The session being stepped up.
        session_id: String,
    },
}

/// An enrolled device (phone or admin browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Device {
    /// Id.
    pub device_id: DeviceId,
    /// Owner.
    pub user_id: uuid::Uuid,
    /// Ed25519 public key requests are signed with.
    pub public_key: [u8; 32],
    /// Lifecycle state.
    pub status: DeviceStatus,
    /// Name given at enrollment ("Dr. A's iPhone").
    pub name: String,
    /// Phone, console browser or CLI.
    #[serde(default)]
    pub platform: Platform,
    /// Enrollment time.
    pub enrolled_at_ms: i64,
    /// Last authenticated request.
    pub last_seen_ms: i64,
    /// Remote wipe, once the device was revoked.
    #[serde(default)]
    pub wipe: Option<WipeState>,
    /// Progress of its revocation (see `domain::lifecycle`): written right after the status
    /// moved to revoked, completed once sessions, wipe command and key rotation are done.
    #[serde(default)]
    pub revocation: Option<Revocation>,
}

/// A revocation's progress. Revoking is a sequence of idempotent steps (status → sessions
/// ended → wipe command queued → tenant key rotated past `epoch_at_revoke`); a step that fails
/// leaves this record incomplete, and the retried request, the device's next contact or the
/// sweeper carries on from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Revocation {
    /// When the device was revoked.
    pub revoked_at_ms: i64,
    /// The tenant key epoch read after the device stopped being active: the revocation's
    /// rotation is done once the tenant's current epoch is past it.
    pub epoch_at_revoke: u32,
    /// When every step was done (`None`: still to finish).
    pub completed_at_ms: Option<i64>,
}

/// A login session bound to one device. Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public session id (sent with each request, bound into its signature).
    pub session_id: String,
    /// SHA-256 of the bearer token (hex).
    pub token_hash: String,
    /// User.
    pub user_id: uuid::Uuid,
    /// Device the session is bound to.
    pub device_id: DeviceId,
    /// Role at login.
    pub role: Role,
    /// Expiry.
    pub expires_at_ms: i64,
    /// Last fresh passkey assertion (login or step-up).
    pub authenticated_at_ms: i64,
    /// Revoked sessions are refused.
    pub revoked: bool,
    /// When signed in (0 for sessions from before this was kept: `authenticated_at_ms`).
    #[serde(default)]
    pub created_at_ms: i64,
    /// Last authenticated request, to the minute (0: none yet).
    #[serde(default)]
    pub last_used_ms: i64,
    /// A console (browser) session: ends after the clinic's idle timeout and absolute limit.
    #[serde(default)]
    pub console: bool,
}

impl Session {
    /// When signed in.
    pub fn started_ms(&self) -> i64 {
        if self.created_at_ms > 0 {
            self.created_at_ms
        } else {
            self.authenticated_at_ms
        }
    }

    /// Last request, or sign-in if none since.
    pub fn used_ms(&self) -> i64 {
        self.last_used_ms.max(self.started_ms())
    }

    /// Whether it still admits requests at `now_ms` under `policy`.
    pub fn live(&self, now_ms: i64, policy: &TenantPolicy) -> bool {
        if self.revoked || self.expires_at_ms <= now_ms {
            return false;
        }
        if self.console {
            let idle = i64::from(policy.console_idle_minutes) * 60_000;
            let max = i64::from(policy.console_session_hours) * 3_600_000;
            return now_ms - self.used_ms() < idle && now_ms - self.started_ms() < max;
        }
        true
    }
}

/// One stored object version (an envelope; the backend never decrypts it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Envelope kind number.
    pub kind: u8,
    /// Client it belongs to (for access filtering).
    pub client_id: Option<ObjectId>,
    /// Parent version.
    pub parent_version: Option<VersionId>,
    /// Position in the tenant's change feed.
    pub seq: u64,
    /// SHA-256 of the envelope bytes (hex) — idempotency and integrity.
    pub sha256: String,
    /// Envelope length.
    pub size: u64,
    /// Inline envelope (notes etc.); `None` for photo content stored as a blob.
    pub envelope: Option<Vec<u8>>,
    /// Uploading device.
    pub device_id: DeviceId,
    /// Server receive time.
    pub created_at_ms: i64,
    /// A note version's state as its (format-2) envelope header states it: a signed version
    /// or an addendum locks its note. `None` for other kinds and format-1 envelopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_state: Option<NoteState>,
}

impl StoredObject {
    /// Whether this version locks its object: no other version may follow it.
    pub fn locks(&self) -> bool {
        self.note_state.is_some_and(NoteState::locks)
    }
}

/// An append-only audit record on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    /// When.
    pub at_ms: i64,
    /// Who (user id, or "system").
    pub actor: String,
    /// Which device, if any.
    pub device_id: Option<DeviceId>,
    /// What happened ("tenant_key.release", "object.push", …).
    pub action: String,
    /// What it concerned (object id, device id, …).
    pub target: Option<String>,
}

pub use ward_proto::audit::ChainFlag;

/// Where an audit entry comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuditSource {
    /// Recorded by the backend as it served a request.
    #[default]
    Server,
    /// Recorded on a device in its hash-chained log and uploaded.
    Device,
}

/// A device event's place in that device's hash chain, as the backend verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChainInfo {
    /// Position in the device's chain.
    pub seq: u64,
    /// The chain hash the device sent (hex).
    pub hash: String,
    /// Envelope kind of the object acted on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// Why verification flagged it, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<ChainFlag>,
    /// When the backend received it.
    pub received_at_ms: i64,
}

/// An audit entry: a record plus what filters and the breach-scope report need. Stored as one
/// flat JSON body, so every stored entry also reads as a plain [`AuditRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Who, which device, what, when.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The client whose data it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ObjectId>,
    /// How many versions (or photos) it covers, if it covers several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Server or device.
    #[serde(default)]
    pub source: AuditSource,
    /// For device events: the chain position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainInfo>,
}

impl From<AuditRecord> for AuditEntry {
    fn from(record: AuditRecord) -> Self {
        Self {
            record,
            client: None,
            count: None,
            source: AuditSource::Server,
            chain: None,
        }
    }
}

/// One accepted event of a device's chain: its position and hash (what the next upload must
/// continue from), and its flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Position.
    pub seq: u64,
    /// Chain hash as the device sent it.
    pub hash: [u8; 32],
    /// Flag, if verification raised one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<ChainFlag>,
}

/// Server-side state of a resumable photo upload (S3 multipart or the embedded equivalent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Client the photo belongs to.
    pub client_id: ObjectId,
    /// The storage's multipart upload id.
    pub upload_id: String,
    /// Total envelope size in bytes.
    pub size: u64,
    /// Bytes per part (the last part may be shorter).
    pub part_size: u64,
    /// Device uploading.
    pub device_id: DeviceId,
    /// Started.
    pub created_at_ms: i64,
    /// Set once completed and recorded in the change feed.
    pub completed: bool,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Part number, from 1.
    pub number: u32,
    /// The storage's ETag for it.
    pub etag: String,
    /// Its size.
    pub size: u64,
}
