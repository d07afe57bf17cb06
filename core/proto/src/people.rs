//! People and who may see which client: the payloads of care-team management, break-glass
//! emergency access, a person's devices and sessions, and "my clients" (the access a device
//! syncs to). Shared by the backend, the phone core and the `ward` CLI.

use serde::{Deserialize, Serialize};

use crate::api::Role;
use crate::ids::{DeviceId, ObjectId};

/// What kind of device a device is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A phone running the Ward app.
    #[default]
    Phone,
    /// A web admin console in a browser: its sessions end after the clinic's idle timeout.
    Browser,
    /// The `ward` command-line tool.
    Cli,
}

/// One member of a care team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct TeamMember {
    /// The user.
    pub user_id: uuid::Uuid,
    /// Their name.
    pub display_name: String,
    /// Their role.
    pub role: Role,
}

/// A client's care team: who treats them, and who holds emergency access right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CareTeam {
    /// The client.
    pub client_id: ObjectId,
    /// Members, by name.
    pub members: Vec<TeamMember>,
    /// Unexpired break-glass grants on this client.
    pub break_glass: Vec<BreakGlassGrant>,
}

/// Add a clinician to a care team, or remove one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamChange {
    /// The clinician.
    pub user_id: uuid::Uuid,
    /// Why (kept in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Hand a client over from one clinician to another in one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Handover {
    /// The clinician handing over (leaves the team).
    pub from_user_id: uuid::Uuid,
    /// The clinician taking over (joins the team).
    pub to_user_id: uuid::Uuid,
    /// Why (kept in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Ask for emergency access to a client whose team the caller is not on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    /// Why, typed by the clinician (at least a few words; kept in the audit log and shown to
    /// the admins).
    pub reason: String,
}

/// An emergency access: granted at once, for a limited time, shown to the admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct BreakGlassGrant {
    /// Id.
    pub grant_id: String,
    /// The client.
    pub client_id: ObjectId,
    /// Who broke the glass.
    pub user_id: uuid::Uuid,
    /// Their name.
    pub display_name: String,
    /// From which device.
    pub device_id: DeviceId,
    /// The typed reason.
    pub reason: String,
    /// When granted.
    pub granted_at_ms: i64,
    /// When it ends by itself.
    pub expires_at_ms: i64,
    /// The admin who acknowledged the alert, once one did.
    #[serde(default)]
    pub acknowledged_by: Option<uuid::Uuid>,
    /// When.
    #[serde(default)]
    pub acknowledged_at_ms: Option<i64>,
}

impl BreakGlassGrant {
    /// Whether it still grants access at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms
    }
}

/// Why a caller may read a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessVia {
    /// On the client's care team.
    Team,
    /// An unexpired break-glass grant.
    BreakGlass,
}

/// One client a caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ClientAccess {
    /// The client.
    pub client_id: ObjectId,
    /// Why.
    pub via: AccessVia,
    /// When the access ends by itself (break-glass), if it does.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// The newest generation of the client's key (ADR 0015): a device holding an older one
    /// fetches the keys again before it seals new data. `None`: no key yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
}

/// The clients the caller's devices may hold: what a device keeps after its next contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct MyClients {
    /// Every client (admins; front desk for client records only): `clients` is then empty
    /// and the device drops nothing.
    pub all: bool,
    /// The clients the caller may read, by client id.
    pub clients: Vec<ClientAccess>,
    /// Clients erased from the clinic (Art. 17): a device deletes everything it holds of
    /// them, unsynced work included, whatever `all` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<ObjectId>,
}

impl MyClients {
    /// A short fingerprint of the access, sent with every pull page (`access_tag`) so a
    /// device refetches it only when it changed.
    pub fn tag(&self) -> String {
        let mut ids: Vec<String> = self
            .clients
            .iter()
            .map(|c| format!("{}:{:?}:{:?}", c.client_id, c.expires_at_ms, c.key))
            .collect();
        ids.sort();
        let mut erased: Vec<String> = self.erased.iter().map(|c| c.to_string()).collect();
        erased.sort();
        let text = format!("{}|{}|{}", self.all, ids.join(","), erased.join(","));
        let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the caller may still read `client`.
    pub fn allows(&self, client: ObjectId) -> bool {
        self.all || self.clients.iter().any(|c| c.client_id == client)
    }
}

/// A session as an admin (or its user) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SessionInfo {
    /// Id.
    pub session_id: String,
    /// The device it is bound to.
    pub device_id: DeviceId,
    /// When signed in.
    pub created_at_ms: i64,
    /// Last request (to the minute).
    pub last_used_ms: i64,
    /// When it ends at the latest.
    pub expires_at_ms: i64,
    /// A console (browser) session, ended by the idle timeout.
    pub console: bool,
}

/// A new device for an existing person (admin-issued, or started from a signed-in device):
/// the one-time code enrolls a device of that same user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DeviceInvite {
    /// The one-time code (only its hash is stored).
    pub code: String,
    /// The person it enrolls a device for.
    pub user_id: uuid::Uuid,
    /// When it expires.
    pub expires_at_ms: i64,
}

/// Change a user's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// Deactivate a user (a leaver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Deactivation {
    /// Why (kept in the audit log).
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_tag_changes_with_the_access_and_not_with_order() {
        let a = ClientAccess {
            key: None,
            client_id: ObjectId::random(),
            via: AccessVia::Team,
            expires_at_ms: None,
        };
        let b = ClientAccess {
            key: None,
            client_id: ObjectId::random(),
            via: AccessVia::BreakGlass,
            expires_at_ms: Some(5),
        };
        let one = MyClients {
            erased: Vec::new(),
            all: false,
            clients: vec![a.clone(), b.clone()],
        };
        let other_order = MyClients {
            erased: Vec::new(),
            all: false,
            clients: vec![b.clone(), a.clone()],
        };
        let fewer = MyClients {
            erased: Vec::new(),
            all: false,
            clients: vec![a.clone()],
        };
        assert_eq!(one.tag(), other_order.tag());
        assert_ne!(one.tag(), fewer.tag());
        assert!(one.allows(b.client_id) && !fewer.allows(b.client_id));
    }
}
