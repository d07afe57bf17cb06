//! Names of the sync bookkeeping entries kept in the vault (`Vault::sync_meta`), shared by
//! identity, wipe, the engine and the device state (a leaf of `sync`).

/// The pinned wipe-command public key (base64url), set once at enrollment.
pub const PINNED_WIPE_KEY: &str = "wipe_public_key";
/// When the device last reached the server (ms since the Unix epoch).
pub const LAST_CONTACT_MS: &str = "last_contact_ms";
