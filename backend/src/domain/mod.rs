//! The rules of the sync API, below HTTP and above the storage ports: who may read what, key
//! release and rotation, sync, photos, device lifecycle, identity, policy, audit and reports.
//!
//! Every rule is a function over an [`Env`] (the ports, the clock, the configuration) and the
//! authenticated [`Caller`], returning typed results or a [`DomainError`]. No function here sees
//! an HTTP type; `crate::api` extracts, calls one of these and responds, and maps a
//! [`DomainError`] to its status and code in one place (`impl From<DomainError> for ApiError`).

pub mod audit;
pub mod break_glass;
mod caller;
pub mod client_keys;
pub mod devices;
pub mod erasure;
mod error;
pub mod export;
pub mod identity;
pub mod invites;
pub mod keys;
pub mod lifecycle;
pub mod photos;
pub mod policy;
pub mod reports;
pub mod revocation;
pub mod sync;
pub mod teams;
pub mod text;
pub mod throttle;
pub mod users;

use std::sync::Arc;

pub use caller::{Caller, STEP_UP_MAX_AGE_MS};
pub use error::{DomainError, DomainResult};

use crate::config::Config;
use crate::model::Tenant;
use crate::store::Stores;
use ward_proto::TenantId;

/// A source of time (ms since the epoch), injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// What every rule runs against: the storage ports, the clock and the configuration.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Storage ports.
    pub stores: &'a Stores,
    /// Time.
    pub clock: &'a Clock,
    /// Configuration (lifetimes of sessions, ceremonies, invites; the signature skew).
    pub config: &'a Config,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env<'_> {
    /// Now, in ms.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The tenant's record, or 404.
    pub async fn tenant(&self, tenant: TenantId) -> DomainResult<Tenant> {
        self.stores
            .tenants
            .get_tenant(tenant)
            .await?
            .filter(|t| t.offboarded_at_ms.is_none())
            .ok_or_else(|| DomainError::NotFound("no such tenant".into()))
    }
}
