//! What a wrapped key is for: the context bound into its wrapping next to the tenant, so that
//! one key can never be unwrapped as another.

/// What a wrapped key is for, bound into its wrapping (KMS encryption context, or the local
/// seal's context) next to the tenant: a wipe-signing seed can never be unwrapped as a tenant
/// key, nor one epoch's key as another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The tenant key of this epoch.
    TenantKey {
        /// Its epoch.
        epoch: u32,
    },
    /// The tenant's wipe-signing seed.
    WipeSeed,
    /// The tenant's client-wrapping key (ADR 0015): seals every per-client key at rest. Kept
    /// with the tenant keys at the reserved epoch 0 and never released to a device.
    ClientWrap,
    /// Wrapped before purposes existed: the tenant-only context (read, never written).
    Legacy,
}

impl KeyPurpose {
    /// The context pairs beside `tenant`: `purpose` and, for a tenant key, `epoch`.
    pub fn context(self) -> Vec<(&'static str, String)> {
        match self {
            KeyPurpose::TenantKey { epoch } => vec![
                ("purpose", "tenant-key".into()),
                ("epoch", epoch.to_string()),
            ],
            KeyPurpose::WipeSeed => vec![("purpose", "wipe-seed".into())],
            KeyPurpose::ClientWrap => vec![("purpose", "client-wrap".into())],
            KeyPurpose::Legacy => Vec::new(),
        }
    }
}
