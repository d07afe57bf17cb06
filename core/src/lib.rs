//! `ward-core`: the Rust core the Ward iOS and Android apps call through uniffi.
//!
//! It owns everything that must be identical on both platforms and must never be got wrong in
//! app code: the key hierarchy and envelope encryption (via `ward-proto`), the encrypted vault
//! on disk, photo capture without plaintext temp files or location metadata, the clinical
//! record rules (immutable note versions, signing, addenda, consents) and the hash-chained
//! audit log. Platform services (the hardware key store, the passkey authenticator) come in
//! through foreign traits.
//!
//! # Layers
//!
//! Modules are ordered leaf first; each imports only from layers above it in this list, never
//! from a later one (check: `grep -rn '^use crate::' core/src`):
//!
//! 1. `ward_proto` (envelopes, keys, wire types, error codes) — its own crate.
//! 2. Leaves: [`bytes`], [`clock`], [`capture`] (pure image functions), [`keystore`] (the
//!    key store the vault calls, and the software one), [`error`] ([`CoreError`]).
//! 3. Pure records: [`records`], the plaintext sealed inside envelopes.
//! 4. [`vault`], including its audit storage ([`vault::audit`]): lifecycle, keys, the object
//!    store, the outbox.
//! 5. [`domain`]: the clinical use cases (clients, notes, photos, consents) as `impl Vault`.
//! 6. [`sync`] leaves: errors, reports, bookkeeping names, retry/backoff, the passkey seam,
//!    the HTTP transport, the push request and batch sizes.
//! 7. [`sync`] features: identity, wipe, audit upload, device state.
//! 8. [`sync::engine`].
//! 9. [`ffi`]: the exported surface, on top of everything.
//!
//! # What is public, and why
//!
//! [`ffi`] is the whole surface the apps see: every `#[uniffi::export]` lives there, with the
//! foreign traits and the [`WardError`] mapping; no other module exports anything. The records
//! and enums those calls carry (`ClientView`, `NoteBody`, `Policy`, `LeaseState`, the leaf
//! errors `KeyStoreError` / `PasskeyError`, …) derive their uniffi conversions where they are
//! defined, because they are data of their layer, not FFI code.
//!
//! The foreign traits the apps implement ([`SecureKeyStore`], [`ffi::PasskeyProvider`],
//! [`ffi::SyncListener`]) sit in [`ffi`], at the top; the core below calls Rust traits of its
//! own ([`keystore::KeyStore`], [`sync::Authenticator`], [`sync::Progress`]) and [`ffi`]
//! adapts one to the other. So the layering holds, and an app-side trait can change shape
//! without touching the vault. The software stand-ins ([`SoftwareKeyStore`],
//! [`sync::SoftwarePasskey`]) stay beside the core traits they implement; only their exported
//! constructors are in [`ffi`].
//!
//! The other modules are public too, for Rust callers that are not apps: the `ward` CLI and
//! the benchmarks drive the [`Vault`] directly, and the tests (crate, e2e) reach into the
//! layers they check. The re-exports below are the names those callers use most.

uniffi::setup_scaffolding!();

pub mod bytes;
pub mod capture;
pub mod clock;
pub mod error;
pub mod keystore;

pub mod records;

pub mod vault;

pub mod domain;

pub mod sync;

pub mod ffi;

pub use bytes::Bytes;
pub use error::CoreError;
pub use ffi::{SecureKeyStore, WardError, WardVault};
pub use keystore::{KeyStore, KeyStoreError, SoftwareKeyStore};
pub use vault::{Identity, Policy, Vault};
