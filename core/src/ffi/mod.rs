//! The whole surface the iOS and Android apps see, and nothing else: every exported object,
//! the foreign traits the apps implement, and the one error every call returns.
//!
//! - [`WardVault`] ([`vault`]) and its sub-objects per area: [`Clients`], [`Notes`],
//!   [`Photos`], [`Consents`], [`AuditLog`] (one file each);
//! - [`WardSync`] ([`sync`]): enrollment, login, sync and the admin calls; its people and
//!   care-team calls ([`people`]);
//! - [`WardError`] ([`error`]): the whole mapping from the core's `CoreError` and sync's
//!   `ClientError` / `SyncError` into the cases an app can act on;
//! - the foreign traits: [`SecureKeyStore`] ([`keystore`]), [`PasskeyProvider`] ([`passkey`]),
//!   [`SyncListener`] ([`listener`]), each with the adapter that hands it to the core as the
//!   core's own Rust trait (`KeyStore`, `Authenticator`, `Progress`);
//! - the exported constructors of the software stand-ins, [`SoftwareKeyStore`] and
//!   [`SoftwarePasskey`], whose implementations stay beside the traits they implement.
//!
//! Everything here is a thin translation over the layers below: ids travel as strings, errors
//! as [`WardError`], photo bytes as [`crate::Bytes`] (one memcpy across the boundary). No key
//! ever crosses this surface; only records the user is allowed to see, and ciphertext stays
//! inside. All calls are blocking; apps call them off the main thread. The records and enums
//! the calls take and return (`ClientView`, `NoteBody`, `Policy`, `LeaseState`, …) are derived
//! where the domain defines them: they are plain data, not FFI code.

pub mod audit;
pub mod clients;
pub mod consents;
pub mod error;
pub mod keystore;
pub mod listener;
pub mod notes;
pub mod passkey;
pub mod people;
pub mod photos;
pub mod sync;
pub mod vault;

pub use audit::{AuditEventView, AuditLog};
pub use clients::Clients;
pub use consents::Consents;
pub use error::WardError;
pub use keystore::SecureKeyStore;
pub use listener::SyncListener;
pub use notes::Notes;
pub use passkey::PasskeyProvider;
pub use photos::Photos;
pub use sync::{SyncStatus, SyncSummary, WardSync, send_pending_wipe_receipt};
pub use vault::{VaultConfig, VaultStatus, WardVault};

pub use crate::keystore::SoftwareKeyStore;
pub use crate::sync::passkey::SoftwarePasskey;
