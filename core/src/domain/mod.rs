//! The clinical use cases on top of the vault: clients, notes, photos and consents.
//!
//! Each submodule adds `impl Vault` methods for one kind of record; they share the vault's
//! object store (every version an envelope), its in-memory index of decrypted records and its
//! audit log ([`crate::vault::audit`]). The plaintext records they seal are [`crate::records`].

pub mod clients;
pub mod consents;
pub mod notes;
pub mod photos;
