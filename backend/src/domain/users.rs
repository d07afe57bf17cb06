//! The clinic's staff list for the admin console: users with their role and creation time.
//! Staff names are not clinical data (they are stored in clear, like the invite they came from);
//! client names never pass through here.

use serde::Serialize;

use super::{Caller, DomainResult, Env};
use crate::model::Role;

/// One staff member as the console lists them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StaffMember {
    /// User id.
    pub user_id: uuid::Uuid,
    /// Name from the invite.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When the user enrolled.
    pub created_at_ms: i64,
}

/// Every user of the caller's tenant, oldest first.
pub async fn list(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<StaffMember>> {
    let mut users = env.stores.identity.list_users(caller.tenant).await?;
    users.sort_by_key(|u| u.created_at_ms);
    Ok(users
        .into_iter()
        .map(|u| StaffMember {
            user_id: u.user_id,
            display_name: u.display_name,
            role: u.role,
            created_at_ms: u.created_at_ms,
        })
        .collect())
}

/// The clinics on this server (the landing page lists them).
pub async fn clinics(env: Env<'_>) -> DomainResult<Vec<crate::model::Tenant>> {
    Ok(env.stores.tenants.list_tenants().await?)
}
