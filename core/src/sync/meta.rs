//! Names of the sync bookkeeping entries kept in the vault (`Vault::sync_meta`), shared by
//! identity, wipe, the engine and the device state (a leaf of `sync`).

/// The pinned wipe-command public key (base64url), set once at enrollment.
pub const PINNED_WIPE_KEY: &str = "wipe_public_key";
/// When the device last reached the server (ms since the Unix epoch).
pub const LAST_CONTACT_MS: &str = "last_contact_ms";
/// The pull cursor: the feed position of the last page taken in (`Ctx::apply_pulled` moves it
/// with the page).
pub const CURSOR: &str = "cursor";
/// The `access_tag` of the access ("my clients") applied last.
pub const ACCESS_TAG: &str = "access_tag";
/// The access applied last (`MyClients` JSON), owned by the vault, which reads it for the
/// client list.
pub use crate::vault::forget::ACCESS_META as ACCESS;
/// Set to 1 while a pull from the start, after the access grew, is under way: it asks for
/// this device's own versions too (a re-added client's were dropped), and survives a cut.
pub const FULL_PULL: &str = "full_pull";
