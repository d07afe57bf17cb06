//! Ward's wire formats, shared by the phone core (`ward-core`) and the backend.
//!
//! The most important item here is the [`envelope`]: the one ciphertext format that a capture
//! writes to the phone's vault and that is later uploaded unchanged to the cloud. Keeping it in
//! a small crate of its own lets the backend validate envelope headers (tenant, object, version,
//! kind) without pulling in the phone's storage or FFI code, and guarantees both sides agree on
//! the bytes.

pub mod api;
pub mod audit;
pub mod client_keys;
pub mod envelope;
pub mod erasure;
pub mod errors;
pub mod export;
pub mod ids;
pub mod keys;
pub mod people;
pub mod policy;
pub mod sealed;
pub mod signing;
pub mod stream;
pub mod wipe;

pub use envelope::{Envelope, EnvelopeError, Header, Kind, NoteState, ObjectRef};
pub use ids::{DeviceId, ObjectId, TenantId, VersionId};
pub use keys::{ClientKey, ContentKey, SymmetricKey, TenantKey};
