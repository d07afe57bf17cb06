//! Storage ports: what the domain needs from storage, split by concern, each taking the tenant
//! as a required first argument so that no query can be built without one.
//!
//! Two adapters implement every port: [`embedded`] (SQLite + files + a local master key, the
//! default for `ward-server` on one machine) and [`aws`] (DynamoDB single table, S3,
//! KMS). [`Stores`] bundles one of each for the router. Conditional writes that decide
//! correctness (consuming an invite or a ceremony once, first use of a request nonce, a new
//! object version) are atomic in both adapters. [`open`] builds the stores a configuration
//! names.

pub mod aws;
pub mod embedded;
pub mod local_blobs;
mod open;
pub(crate) mod secret_file;

mod audit_query;
pub mod client_keys;
pub mod erasure;
mod key_purpose;

pub use audit_query::{AuditPage, AuditQuery, ChainEntry, MAX_AUDIT_SCAN};
pub use client_keys::{ClientKeyStore, WrappedClientKey};
pub use erasure::{ErasureStore, Purged, VersionRef};
pub use key_purpose::KeyPurpose;
pub use open::{OpenedStores, open};

use std::sync::Arc;

use async_trait::async_trait;
use ward_proto::{DeviceId, ObjectId, TenantId, VersionId};
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::model::{
    AuditEntry, AuditRecord, BreakGlassGrant, Ceremony, ChainLink, Credential, Device,
    DeviceStatus, Invite, PartInfo, Session, StoredObject, Tenant, UploadState, User,
    WrappedTenantKey,
};

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Tenants and their wrapped tenant keys.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant; `Conflict` if the id exists.
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// A tenant by id.
    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>>;
    /// Every tenant (setup and operations only; never on a request path).
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Stores a wrapped tenant key; `Conflict` if that epoch exists.
    async fn put_tenant_key(&self, tenant: TenantId, key: &WrappedTenantKey) -> StoreResult<()>;
    /// All wrapped tenant keys, by epoch.
    async fn tenant_keys(&self, tenant: TenantId) -> StoreResult<Vec<WrappedTenantKey>>;
    /// Moves the current epoch from `expected` to `new`; `Conflict` if it was not `expected`.
    async fn set_current_epoch(&self, tenant: TenantId, expected: u32, new: u32)
    -> StoreResult<()>;
    /// Marks a tenant offboarded (its key shredded): every request to it is refused.
    async fn set_offboarded(&self, tenant: TenantId, at_ms: i64) -> StoreResult<()>;
}

/// Users, passkeys, invites and ceremonies.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates or replaces a user.
    async fn put_user(&self, tenant: TenantId, user: &User) -> StoreResult<()>;
    /// A user.
    async fn get_user(&self, tenant: TenantId, user_id: uuid::Uuid) -> StoreResult<Option<User>>;
    /// All users.
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    /// Creates or replaces a passkey.
    async fn put_credential(&self, tenant: TenantId, cred: &Credential) -> StoreResult<()>;
    /// A user's passkeys.
    async fn credentials(
        &self,
        tenant: TenantId,
        user_id: uuid::Uuid,
    ) -> StoreResult<Vec<Credential>>;
    /// Stores an invite.
    async fn put_invite(&self, tenant: TenantId, invite: &Invite) -> StoreResult<()>;
    /// Reads an invite without consuming it (expired ones included: check `expires_at_ms`).
    async fn get_invite(&self, tenant: TenantId, code_hash: &str) -> StoreResult<Option<Invite>>;
    /// Atomically consumes an unexpired invite (exactly one caller gets `Some`).
    async fn take_invite(
        &self,
        tenant: TenantId,
        code_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Invite>>;
    /// Stores ceremony state.
    async fn put_ceremony(&self, tenant: TenantId, ceremony: &Ceremony) -> StoreResult<()>;
    /// Atomically consumes unexpired ceremony state: exactly one caller gets `Some`, so an
    /// assertion or attestation can never be verified twice (webauthn-rs does not stop that).
    async fn take_ceremony(
        &self,
        tenant: TenantId,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Ceremony>>;
    /// Adds a user to a client's care team.
    async fn add_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<()>;
    /// Whether a user is on a client's care team.
    async fn on_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool>;
    /// Every care-team membership `(client, user)` of the tenant, sorted (backup and restore
    /// only; never on a request path).
    async fn list_care_teams(&self, tenant: TenantId) -> StoreResult<Vec<(ObjectId, uuid::Uuid)>>;
    /// Removes a user from a client's care team; whether they were on it.
    async fn remove_care_team(
        &self,
        tenant: TenantId,
        client: ObjectId,
        user: uuid::Uuid,
    ) -> StoreResult<bool>;
    /// The members of a client's care team.
    async fn care_team(&self, tenant: TenantId, client: ObjectId) -> StoreResult<Vec<uuid::Uuid>>;
    /// The clients on whose care team `user` is (their caseload).
    async fn caseload(&self, tenant: TenantId, user: uuid::Uuid) -> StoreResult<Vec<ObjectId>>;
    /// Stores (creates or replaces) a break-glass grant.
    async fn put_break_glass(&self, tenant: TenantId, grant: &BreakGlassGrant) -> StoreResult<()>;
    /// Every break-glass grant of the tenant, oldest first (grant ids sort by time).
    async fn list_break_glass(&self, tenant: TenantId) -> StoreResult<Vec<BreakGlassGrant>>;
}

/// Devices, sessions and request nonces.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates a device; `Conflict` if the id exists.
    async fn create_device(&self, tenant: TenantId, device: &Device) -> StoreResult<()>;
    /// A device.
    async fn get_device(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Option<Device>>;
    /// All devices.
    async fn list_devices(&self, tenant: TenantId) -> StoreResult<Vec<Device>>;
    /// Changes a device's status if it is currently one of `from`; returns whether it did.
    async fn set_device_status(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from: &[DeviceStatus],
        to: DeviceStatus,
    ) -> StoreResult<bool>;
    /// Records the time of the device's last authenticated request.
    async fn touch_device(
        &self,
        tenant: TenantId,
        device: DeviceId,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Stores a session.
    async fn put_session(&self, tenant: TenantId, session: &Session) -> StoreResult<()>;
    /// A session of a device.
    async fn get_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<Option<Session>>;
    /// Revokes every session of a device; returns how many.
    async fn revoke_device_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<u32>;
    /// Every session of a device (ended and expired ones included).
    async fn list_sessions(&self, tenant: TenantId, device: DeviceId) -> StoreResult<Vec<Session>>;
    /// Ends one session of a device; whether it was live (not already ended).
    async fn end_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
    ) -> StoreResult<bool>;
    /// Records the time of a session's last authenticated request (only ever forward).
    async fn touch_session(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Records a fresh passkey assertion on a session (step-up).
    async fn mark_authenticated(
        &self,
        tenant: TenantId,
        device: DeviceId,
        session_id: &str,
        at_ms: i64,
    ) -> StoreResult<()>;
    /// Records a request nonce; `true` only the first time it is seen before `expires_at_ms`.
    async fn use_nonce(
        &self,
        tenant: TenantId,
        device: DeviceId,
        nonce: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> StoreResult<bool>;
}

/// What happened to a pushed object version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored as a new version at this feed position.
    Created {
        /// Change-feed position.
        seq: u64,
    },
    /// The same bytes were already stored (an idempotent retry).
    Duplicate {
        /// Its change-feed position.
        seq: u64,
    },
    /// Different bytes already exist for that version: refused.
    Conflict,
}

/// Object versions (envelopes) and the per-tenant change feed.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores a new version (its `seq` is assigned here).
    async fn put_object(&self, tenant: TenantId, object: &StoredObject) -> StoreResult<PutOutcome>;
    /// Stores several versions, in order, with the same per-version outcome as
    /// [`put_object`](Self::put_object). Adapters that can do it in one transaction do (the
    /// embedded store: one commit per push instead of one per version); the default stores
    /// them one after the other.
    async fn put_objects(
        &self,
        tenant: TenantId,
        objects: &[StoredObject],
    ) -> StoreResult<Vec<PutOutcome>> {
        let mut out = Vec::with_capacity(objects.len());
        for o in objects {
            out.push(self.put_object(tenant, o).await?);
        }
        Ok(out)
    }
    /// Versions after `after_seq`, in feed order, at most `limit`.
    async fn changes(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>>;
    /// Whether any version of `object` exists.
    async fn has_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<bool>;
    /// One stored version of `object` (its metadata; the envelope may be left out): what the
    /// object is (kind) and whose (client), which every later version must keep. When a version
    /// locks the object (a signed note or an addendum, [`StoredObject::locks`]), it is that
    /// one.
    async fn any_version(
        &self,
        tenant: TenantId,
        object: ObjectId,
    ) -> StoreResult<Option<StoredObject>>;
    /// [`any_version`](Self::any_version) of each of `objects` (those that exist), in as few
    /// round trips as the adapter can: a push checks every item's object this way.
    async fn any_versions(
        &self,
        tenant: TenantId,
        objects: &[ObjectId],
    ) -> StoreResult<std::collections::HashMap<ObjectId, StoredObject>> {
        let mut out = std::collections::HashMap::new();
        for o in objects {
            if let Some(v) = self.any_version(tenant, *o).await? {
                out.insert(*o, v);
            }
        }
        Ok(out)
    }
    /// Stores (creates or replaces) the state of a photo upload.
    async fn put_upload(&self, tenant: TenantId, upload: &UploadState) -> StoreResult<()>;
    /// The upload state of an object version, if one was started.
    async fn get_upload(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<UploadState>>;
    /// One version.
    async fn get_object(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<StoredObject>>;
}

/// Where a blob (a photo's envelope) lives: `tenants/<tenant>/objects/<object>/<version>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobKey {
    /// Object.
    pub object: ObjectId,
    /// Version.
    pub version: VersionId,
}

impl BlobKey {
    /// The storage key (S3 object key / relative file path) under the tenant's prefix.
    pub fn path(&self, tenant: TenantId) -> String {
        format!("tenants/{tenant}/objects/{}/{}", self.object, self.version)
    }
}

/// Photo envelopes, uploaded and downloaded by devices directly (presigned URLs): no photo
/// byte passes through the API process on AWS.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Starts a multipart upload; returns its id.
    async fn create_upload(&self, tenant: TenantId, key: BlobKey) -> StoreResult<String>;
    /// A URL the device PUTs part `number` (from 1) to, valid `ttl_s` seconds.
    async fn presign_part(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
        number: u32,
        ttl_s: u32,
    ) -> StoreResult<String>;
    /// Parts already received (for resuming without resending them).
    async fn list_parts(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
    ) -> StoreResult<Vec<PartInfo>>;
    /// Assembles the parts into the blob.
    async fn complete_upload(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
        parts: &[PartInfo],
    ) -> StoreResult<()>;
    /// A URL the device GETs the blob from, valid `ttl_s` seconds.
    async fn presign_get(&self, tenant: TenantId, key: BlobKey, ttl_s: u32) -> StoreResult<String>;
    /// The blob's size, if it exists.
    async fn blob_size(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<u64>>;
    /// The blob's bytes (ciphertext), if it exists: backup export only, never on a request
    /// path (devices download with presigned URLs).
    async fn get_blob(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a whole blob (ciphertext) at once: backup restore only (devices upload with
    /// presigned multipart URLs).
    async fn put_blob(&self, tenant: TenantId, key: BlobKey, bytes: &[u8]) -> StoreResult<()>;
    /// Deletes every stored copy of every version of `object`'s blobs: on S3 each object
    /// version and delete marker (the bucket is versioned), in the replica bucket too when one
    /// is configured, and unfinished multipart uploads; on disk the files, overwritten first.
    /// Returns how many copies went. Idempotent (erasure of a client, ADR 0016).
    async fn erase_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<u64>;
}

/// The server's append-only audit log, and each device's uploaded chain.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends a record.
    async fn append(&self, tenant: TenantId, record: &AuditRecord) -> StoreResult<()>;
    /// The newest records, newest first.
    async fn recent(&self, tenant: TenantId, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// Appends several entries at once (one transaction per batch where the adapter can, so a
    /// pull page of many clients costs one write call, not one per client).
    async fn append_entries(&self, tenant: TenantId, entries: &[AuditEntry]) -> StoreResult<()>;
    /// Entries matching `q`, newest (or oldest) first, after `q.after`.
    async fn query(&self, tenant: TenantId, q: &AuditQuery) -> StoreResult<AuditPage>;
    /// The accepted event of `device`'s chain with the highest seq.
    async fn chain_head(
        &self,
        tenant: TenantId,
        device: DeviceId,
    ) -> StoreResult<Option<ChainLink>>;
    /// Accepted events of `device`'s chain with `from_seq <= seq <= to_seq`, by seq.
    async fn chain_links(
        &self,
        tenant: TenantId,
        device: DeviceId,
        from_seq: u64,
        to_seq: u64,
    ) -> StoreResult<Vec<ChainLink>>;
    /// Stores chain events in order, each with its entries atomically. Stops before the first
    /// whose seq is already stored (a concurrent upload) and returns how many it stored.
    async fn append_chain(
        &self,
        tenant: TenantId,
        device: DeviceId,
        entries: &[ChainEntry],
    ) -> StoreResult<usize>;
}

/// Per-tenant key-encryption keys: KMS keys on AWS, keys under a local master key embedded.
#[async_trait]
pub trait KeyVault: Send + Sync {
    /// Creates the tenant's own KEK; returns its reference (KMS key id, or a local reference).
    async fn create_tenant_kek(&self, tenant: TenantId) -> StoreResult<String>;
    /// A new random tenant key: plaintext (to seal to requesters) and its wrapped form,
    /// bound to the tenant as encryption context.
    async fn generate_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
    ) -> StoreResult<(Zeroizing<Vec<u8>>, Vec<u8>)>;
    /// Unwraps a tenant key; fails under another tenant's context.
    async fn unwrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>>;
    /// Wraps an existing tenant key (or wipe-key seed) under this store's KEK `key_ref`, bound
    /// to the tenant like [`generate_tenant_key`](Self::generate_tenant_key) does: backup
    /// restore re-wraps a tenant's keys for the store it is restored into.
    async fn wrap_tenant_key(
        &self,
        tenant: TenantId,
        key_ref: &str,
        purpose: KeyPurpose,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>>;
    /// Crypto-shreds a tenant: after this, no wrapped key of the tenant (so no envelope of
    /// it, anywhere, backups included) can be unwrapped. AWS: the KMS key is scheduled for
    /// deletion (disabled at once, deleted after the waiting period); embedded: the KEK row is
    /// deleted and overwritten in the database file, its WAL and free pages.
    async fn shred_tenant_kek(&self, tenant: TenantId, key_ref: &str) -> StoreResult<()>;
}

/// Device lifecycle state beyond status: tenant policies, remote-wipe state and the
/// quarantine of records rescued by revoked devices.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Replaces the tenant's policies.
    async fn set_tenant_policy(
        &self,
        tenant: TenantId,
        policy: &crate::model::TenantPolicy,
    ) -> StoreResult<()>;
    /// Records a device's wipe state (the queued command, later its receipt).
    async fn set_device_wipe(
        &self,
        tenant: TenantId,
        device: DeviceId,
        wipe: &crate::model::WipeState,
    ) -> StoreResult<()>;
    /// Records a revoked device's revocation progress.
    async fn set_device_revocation(
        &self,
        tenant: TenantId,
        device: DeviceId,
        revocation: &crate::model::Revocation,
    ) -> StoreResult<()>;
    /// Stores a rescued version once; `false` if that version is already in quarantine.
    async fn put_quarantine(
        &self,
        tenant: TenantId,
        item: &crate::model::QuarantineItem,
    ) -> StoreResult<bool>;
    /// The tenant's quarantine, oldest first.
    async fn list_quarantine(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Vec<crate::model::QuarantineItem>>;
    /// Moves a pending version to `to` (accepted or rejected) once; `None` if there is no
    /// such version or it was already decided.
    async fn decide_quarantine(
        &self,
        tenant: TenantId,
        version: VersionId,
        to: crate::model::QuarantineStatus,
        at_ms: i64,
    ) -> StoreResult<Option<crate::model::QuarantineItem>>;
}

/// One adapter's implementation of every port.
#[derive(Clone)]
pub struct Stores {
    /// Tenants.
    pub tenants: Arc<dyn TenantStore>,
    /// Identity.
    pub identity: Arc<dyn IdentityStore>,
    /// Devices and sessions.
    pub devices: Arc<dyn DeviceStore>,
    /// Objects.
    pub objects: Arc<dyn ObjectStore>,
    /// Audit.
    pub audit: Arc<dyn AuditStore>,
    /// Keys.
    pub keys: Arc<dyn KeyVault>,
    /// Photo blobs.
    pub blobs: Arc<dyn BlobStore>,
    /// Policies, wipes, quarantine.
    pub lifecycle: Arc<dyn LifecycleStore>,
    /// Per-client keys (sealed).
    pub client_keys: Arc<dyn ClientKeyStore>,
    /// The erasure ledger and client purges.
    pub erasures: Arc<dyn ErasureStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

impl Stores {
    /// All ports served by one adapter value, plus a blob store.
    pub fn from_adapter<A>(a: Arc<A>, blobs: Arc<dyn BlobStore>) -> Self
    where
        A: TenantStore
            + IdentityStore
            + DeviceStore
            + ObjectStore
            + AuditStore
            + KeyVault
            + LifecycleStore
            + ClientKeyStore
            + ErasureStore
            + 'static,
    {
        Self {
            tenants: a.clone(),
            identity: a.clone(),
            devices: a.clone(),
            objects: a.clone(),
            audit: a.clone(),
            lifecycle: a.clone(),
            client_keys: a.clone(),
            erasures: a.clone(),
            keys: a,
            blobs,
        }
    }
}
