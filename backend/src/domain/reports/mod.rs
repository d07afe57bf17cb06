//! Audit views, device audit-chain upload, and the breach-scope report (DESIGN property 8).
//!
//! Devices upload segments of their hash-chained audit log ([`chain`]); admins query the log
//! (server and device events, filters, cursor pagination: [`view`]) and get, per device, the
//! breach-scope report ([`breach`]): every client whose data was delivered to it or created on
//! it and when, its last contact and last reported unlock, and its wipe status and receipt.
//! Every view is itself audited. The sync rules record deliveries per client with
//! [`super::audit::client_entry`].

pub mod breach;
pub mod chain;
pub mod view;

pub use super::audit::{CLIENT_CREATE, CLIENT_DELIVER, PHOTO_DOWNLOAD, PHOTO_UPLOAD};
pub use breach::{
    BreachScope, ScopeChain, ScopeClient, ScopeDevice, ScopeTotals, ScopeWipe, breach_scope,
    breach_scope_report,
};
pub use view::{AuditItem, AuditList};

/// Default page size of the audit view.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Largest page of the audit view.
pub const MAX_AUDIT_LIMIT: u32 = 1000;
/// Most store pages a breach-scope report reads (each up to `MAX_AUDIT_LIMIT` entries).
pub const MAX_BREACH_PAGES: usize = 1000;
