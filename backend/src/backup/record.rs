//! The archive's record stream: one [`Record`] per stored item, in archive order.

use serde::{Deserialize, Serialize};
use ward_proto::{DeviceId, ObjectId, VersionId};

use super::Manifest;
use crate::model::{
    AuditEntry, ChainLink, Credential, Device, QuarantineItem, StoredObject, Tenant, UploadState,
    User,
};

/// One record of the archive's stream (the JSON meta part; the data part is noted per variant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Record {
    /// The tenant, with `key_ref` emptied and the wipe key's `wrapped_seed` emptied (both are
    /// the source store's); data: the wipe seed sealed under the archive, or empty.
    Tenant {
        tenant: Tenant,
    },
    /// A tenant-key epoch; data: the key sealed under the archive.
    TenantKey {
        epoch: u32,
        created_at_ms: i64,
    },
    /// A per-client key generation, as stored: sealed under the client-wrapping key (the
    /// tenant key record of epoch 0), so it needs no archive seal of its own.
    ClientKey {
        key: crate::store::WrappedClientKey,
    },
    /// An entry of the clinic's erasure ledger (ADR 0016): no record of that client follows,
    /// and a restore re-applies it.
    Erasure {
        erasure: ward_proto::erasure::Erasure,
    },
    User {
        user: User,
    },
    Credential {
        credential: Credential,
    },
    Device {
        device: Device,
    },
    CareTeam {
        client: ObjectId,
        user: uuid::Uuid,
    },
    /// An object version (its `envelope` emptied); data: the envelope if it was inline.
    Object {
        object: StoredObject,
        inline: bool,
    },
    /// A completed photo upload.
    Upload {
        upload: UploadState,
    },
    /// A photo blob; data: its bytes (an envelope).
    Blob {
        object: ObjectId,
        version: VersionId,
    },
    Quarantine {
        item: QuarantineItem,
    },
    Audit {
        entry: AuditEntry,
    },
    ChainLink {
        device: DeviceId,
        link: ChainLink,
    },
    /// Last record.
    Manifest {
        manifest: Box<Manifest>,
    },
}
