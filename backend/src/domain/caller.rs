//! The authenticated caller and the role rules every route applies to it.

use ward_proto::TenantId;
use ward_proto::errors::ErrorCode;

use super::{DomainError, DomainResult, Env};
use crate::model::{AuditRecord, Device, DeviceStatus, Role, Session, WipeState};

/// How recent a passkey assertion must be for destructive admin actions.
pub const STEP_UP_MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Tenant of the request (from the path; the session belongs to it).
    pub tenant: TenantId,
    /// The session.
    pub session: Session,
    /// The device that signed the request.
    pub device: Device,
}

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.session.role
    }

    /// The user id as text (audit actor).
    pub fn actor(&self) -> String {
        self.session.user_id.to_string()
    }

    /// Appends a server audit event for this caller (who, which device, what, when).
    pub async fn audit(
        &self,
        env: Env<'_>,
        action: &str,
        target: Option<String>,
    ) -> DomainResult<()> {
        let r = AuditRecord {
            at_ms: env.now(),
            actor: self.actor(),
            device_id: Some(self.device.device_id),
            action: action.into(),
            target,
        };
        Ok(env.stores.audit.append(self.tenant, &r).await?)
    }

    /// Refuses every device but a revoked one whose wipe is pending (the wipe endpoints).
    pub fn require_wiping(&self) -> DomainResult<&WipeState> {
        match (&self.device.status, &self.device.wipe) {
            (DeviceStatus::Revoked, Some(w)) if w.receipt.is_none() => Ok(w),
            _ => Err(DomainError::conflict(
                ErrorCode::NoWipePending,
                "this device has no pending wipe",
            )),
        }
    }

    /// Refuses devices not approved by an admin.
    pub fn require_active(&self) -> DomainResult<()> {
        if self.device.status == DeviceStatus::Active {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "this device is awaiting approval by a clinic admin",
            ))
        }
    }

    /// Refuses non-admins.
    pub fn require_admin(&self) -> DomainResult<()> {
        self.require_active()?;
        if self.role() == Role::Admin {
            Ok(())
        } else {
            Err(DomainError::forbidden("admin role required"))
        }
    }

    /// Refuses unless a passkey assertion happened in the last five minutes.
    pub fn require_step_up(&self, now_ms: i64) -> DomainResult<()> {
        if now_ms - self.session.authenticated_at_ms <= STEP_UP_MAX_AGE_MS {
            Ok(())
        } else {
            Err(DomainError::StepUpRequired)
        }
    }
}
