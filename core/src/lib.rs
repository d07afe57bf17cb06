//! `ward-core`: the Rust core the Ward iOS and Android apps call through uniffi.
//!
//! It owns everything that must be identical on both platforms and must never be got wrong in
//! app code: the key hierarchy and envelope encryption (via `ward-proto`), the encrypted vault
//! on disk, photo capture without plaintext temp files or location metadata, the clinical
//! record rules (immutable note versions, signing, addenda, consents) and the hash-chained
//! audit log. Platform services (the hardware key store) come in through foreign traits.
//! [`ffi`] is the whole surface the apps see.

uniffi::setup_scaffolding!();

pub mod bytes;
pub mod capture;
pub mod clock;
pub mod domain;
pub mod error;
pub mod ffi;
pub mod keystore;
pub mod sync;
pub mod vault;

pub use bytes::Bytes;
pub use error::{CoreError, WardError};
pub use ffi::WardVault;
pub use keystore::{KeyStoreError, SecureKeyStore, SoftwareKeyStore};
pub use vault::{Identity, Policy, Vault};
