//! The clinical domain on top of the vault: clients, notes, photos, consents and audit.
//!
//! Each submodule adds `impl Vault` methods for one kind of record; they share the vault's
//! object store (every version an envelope) and its in-memory index of decrypted records.

pub mod audit;
pub mod clients;
pub mod consents;
pub mod notes;
pub mod photos;
pub mod records;
