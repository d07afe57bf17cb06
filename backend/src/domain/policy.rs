//! The clinic's policies: any active member reads them, an admin (with step-up) replaces them.

use ward_proto::errors::ErrorCode;

use super::{Caller, DomainError, DomainResult, Env};
use crate::model::TenantPolicy;

/// The caller's clinic's policies.
pub async fn get(env: Env<'_>, caller: &Caller) -> DomainResult<TenantPolicy> {
    Ok(env.tenant(caller.tenant).await?.policy)
}

/// Validates and stores `policy`, auditing the new value.
pub async fn put(
    env: Env<'_>,
    caller: &Caller,
    policy: TenantPolicy,
) -> DomainResult<TenantPolicy> {
    policy
        .validate()
        .map_err(|m| DomainError::invalid(ErrorCode::InvalidPolicy, m))?;
    env.stores
        .lifecycle
        .set_tenant_policy(caller.tenant, &policy)
        .await?;
    caller
        .audit(
            env,
            "tenant.policy",
            Some(serde_json::to_string(&policy).map_err(DomainError::internal)?),
        )
        .await?;
    Ok(policy)
}
