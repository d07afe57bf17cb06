//! The single table's key schema: attribute names, the record kinds whose tags are part of
//! every stored key, and [`Partition`], whose only constructors take the tenant first (DESIGN
//! property 7: no key can be built without a tenant).

use std::collections::HashMap;
use std::fmt::Display;

use aws_sdk_dynamodb::types::AttributeValue;
use ward_proto::TenantId;

/// One DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub(super) const PK: &str = "pk";
/// Sort key attribute.
pub(super) const SK: &str = "sk";
/// The record as JSON (String attribute).
pub(super) const BODY: &str = "body";
/// Expiry in epoch milliseconds, checked on every read that cares (TTL deletion is lazy).
pub(super) const EXP: &str = "exp";
/// Expiry in epoch seconds: the table's TTL attribute (garbage collection only).
pub(super) const TTL: &str = "ttl";
/// Partition key of the sparse `tenants` index (only tenant records carry it).
pub(super) const GSI_PK: &str = "gpk";
/// Sort key of the sparse `tenants` index.
pub(super) const GSI_SK: &str = "gsk";
/// Name of the sparse index listing tenants.
pub(super) const TENANTS_INDEX: &str = "tenants";
/// The single value of [`GSI_PK`].
pub(super) const TENANTS_GSI_PK: &str = "TENANT";

/// What a partition holds. The tag is part of the stored key: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The tenant record (sk `TENANT`).
    Tenant,
    /// Wrapped tenant keys (sk zero-padded epoch).
    TenantKey,
    /// Users (sk user id).
    User,
    /// Passkeys (sk `<user>#<credential>`).
    Credential,
    /// Invites (sk code hash), expiring.
    Invite,
    /// WebAuthn ceremony state (sk id), expiring.
    Ceremony,
    /// Care-team membership (sk `<client>#<user>`).
    CareTeam,
    /// The same memberships by person (sk `<user>#<client>`).
    Caseload,
    /// Break-glass grants (sk time-ordered grant id).
    BreakGlass,
    /// Devices (sk device id).
    Device,
    /// Sessions (sk `<device>#<session>`), expiring.
    Session,
    /// Request nonces, one partition per device (sk nonce), expiring.
    Nonce,
    /// Photo upload state (sk `<object>#<version>`).
    Upload,
    /// The change feed (sk zero-padded seq), envelopes inline.
    Feed,
    /// One item per object version (sk `<object>#<version>`): idempotency and lookup.
    Version,
    /// Counters (sk `FEED`).
    Counter,
    /// The append-only audit log (sk time-ordered, unique).
    Audit,
    /// The audit entries of one device (sharded by device; same sk as in `Audit`).
    AuditByDevice,
    /// One device's accepted audit chain (sharded by device; sk zero-padded seq).
    AuditChain,
    /// Records rescued by revoked devices (sk version id).
    Quarantine,
    /// Per-client keys, sealed (sk `<client>#<zero-padded generation>`).
    ClientKey,
    /// The erasure ledger (sk client id).
    Erasure,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Tenant => "TENANT",
            Kind::TenantKey => "TKEY",
            Kind::User => "USER",
            Kind::Credential => "CRED",
            Kind::Invite => "INVITE",
            Kind::Ceremony => "CEREMONY",
            Kind::CareTeam => "CARE",
            Kind::Caseload => "CASELOAD",
            Kind::BreakGlass => "BREAKGLASS",
            Kind::Device => "DEVICE",
            Kind::Session => "SESSION",
            Kind::Nonce => "NONCE",
            Kind::Upload => "UPLOAD",
            Kind::Feed => "OBJ",
            Kind::Version => "OBJV",
            Kind::Counter => "CTR",
            Kind::Audit => "AUDIT",
            Kind::AuditByDevice => "AUDITDEV",
            Kind::AuditChain => "ACHAIN",
            Kind::Quarantine => "QUAR",
            Kind::ClientKey => "CKEY",
            Kind::Erasure => "ERASE",
        }
    }
}

/// A partition key. The only constructors take the tenant first, so every key in the table
/// starts with `T#<tenant>#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Partition(String);

impl Partition {
    /// The partition key as stored (`T#<tenant>#<KIND>[#<shard>]`).
    pub(super) fn key(&self) -> &str {
        &self.0
    }

    /// The partition of `kind` records of `tenant`.
    pub(super) fn new(tenant: TenantId, kind: Kind) -> Self {
        Self(format!("T#{tenant}#{}", kind.tag()))
    }

    /// A sub-partition (e.g. per device) of `kind` records of `tenant`, to spread hot writes.
    pub(super) fn sharded(tenant: TenantId, kind: Kind, shard: impl Display) -> Self {
        Self(format!("T#{tenant}#{}#{shard}", kind.tag()))
    }
}
