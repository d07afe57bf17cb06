//! Which key opens an envelope ([`KeyRing`]: tenant keys by epoch, one client's keys by
//! generation) and which key seals one ([`SealKey`]).

use super::{FORMAT_V2, FORMAT_V3};
use crate::keys::{ClientKey, SymmetricKey, TenantKey};

/// Something that can hand out tenant keys by epoch (formats 1 and 2) and, for the one client
/// whose records it opens, client keys by generation (format 3).
pub trait KeyRing {
    /// The tenant key of `epoch`, if held.
    fn key(&self, epoch: u32) -> Option<&TenantKey>;
    /// The key of `generation` of the client being opened, if held. Tenant keys alone hold
    /// none: a format-3 envelope does not open with them.
    fn client_key(&self, generation: u32) -> Option<&ClientKey> {
        let _ = generation;
        None
    }
}

/// The keys that open one client's records: the tenant keys and that client's keys.
#[derive(Debug, Clone, Copy)]
pub struct ClientRing<'a> {
    /// Tenant keys, every epoch held.
    pub tenant: &'a [TenantKey],
    /// The client's keys, every generation held (keys of other clients are ignored).
    pub client: &'a [ClientKey],
    /// The client these records belong to.
    pub client_id: Option<crate::ids::ObjectId>,
}

impl KeyRing for ClientRing<'_> {
    fn key(&self, epoch: u32) -> Option<&TenantKey> {
        self.tenant.key(epoch)
    }

    fn client_key(&self, generation: u32) -> Option<&ClientKey> {
        let id = self.client_id?;
        self.client
            .iter()
            .find(|k| k.client == id && k.generation == generation)
    }
}

impl KeyRing for ClientKey {
    fn key(&self, _epoch: u32) -> Option<&TenantKey> {
        None
    }

    fn client_key(&self, generation: u32) -> Option<&ClientKey> {
        (self.generation == generation).then_some(self)
    }
}

/// The key an envelope is sealed under: a tenant key (formats 1 and 2: a client's identity
/// record, data with no client) or a client key (format 3: a client's clinical data).
#[derive(Debug, Clone, Copy)]
pub enum SealKey<'a> {
    /// A tenant key of one epoch.
    Tenant(&'a TenantKey),
    /// A client key of one generation.
    Client(&'a ClientKey),
}

impl<'a> From<&'a TenantKey> for SealKey<'a> {
    fn from(k: &'a TenantKey) -> Self {
        SealKey::Tenant(k)
    }
}

impl<'a> From<&'a ClientKey> for SealKey<'a> {
    fn from(k: &'a ClientKey) -> Self {
        SealKey::Client(k)
    }
}

impl SealKey<'_> {
    pub(super) fn format(&self) -> u8 {
        match self {
            SealKey::Tenant(_) => FORMAT_V2,
            SealKey::Client(_) => FORMAT_V3,
        }
    }

    pub(super) fn id(&self) -> u32 {
        match self {
            SealKey::Tenant(k) => k.epoch,
            SealKey::Client(k) => k.generation,
        }
    }

    pub(super) fn secret(&self) -> &SymmetricKey {
        match self {
            SealKey::Tenant(k) => &k.key,
            SealKey::Client(k) => &k.key,
        }
    }

    pub(super) fn client(&self) -> Option<crate::ids::ObjectId> {
        match self {
            SealKey::Tenant(_) => None,
            SealKey::Client(k) => Some(k.client),
        }
    }
}

impl KeyRing for TenantKey {
    fn key(&self, epoch: u32) -> Option<&TenantKey> {
        (self.epoch == epoch).then_some(self)
    }
}

impl KeyRing for [TenantKey] {
    fn key(&self, epoch: u32) -> Option<&TenantKey> {
        self.iter().find(|k| k.epoch == epoch)
    }
}

impl KeyRing for Vec<TenantKey> {
    fn key(&self, epoch: u32) -> Option<&TenantKey> {
        self.as_slice().key(epoch)
    }
}
