//! The clinic's people and care teams from a device: "my clients", a client's care team and its
//! management (admins, front desk, team members where the clinic allows), hand-over,
//! break-glass emergency access, the people list, device invites, roles, deactivation and
//! sessions. Every call is one signed request; answers are the server's JSON (the shapes of
//! `ward_proto::people` and docs/protocol.md), errors the usual [`WardError`].

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use ward_proto::{DeviceId, ObjectId};

use super::error::WardError;
use super::passkey::PasskeyProvider;
use super::sync::WardSync;
use crate::domain::clients::parse_id;
use crate::sync::identity;

type R<T> = Result<T, WardError>;

fn user_id(s: &str) -> R<uuid::Uuid> {
    s.parse().map_err(|_| WardError::InvalidInput {
        detail: format!("{s:?} is not a user id"),
    })
}

impl WardSync {
    fn people_call(&self, method: Method, rest: String, body: Option<Value>) -> R<String> {
        let engine = self.engine()?;
        self.run(async {
            Ok(
                identity::admin_call(engine.api(), engine.session(), method, &rest, body.as_ref())
                    .await?
                    .to_string(),
            )
        })
    }
}

#[uniffi::export]
impl WardSync {
    /// The clients this person's devices may hold (JSON `{all, clients: [{client_id, via,
    /// expires_at_ms}]}`): "my clients". `via` is `team` or `break_glass`.
    pub fn my_clients(&self) -> R<String> {
        self.people_call(Method::GET, "/me/clients".into(), None)
    }

    /// A client's care team and active break-glass grants (JSON).
    pub fn care_team(&self, client_id: String) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        self.people_call(Method::GET, format!("/clients/{c}/team"), None)
    }

    /// Adds a clinician to a client's care team (admins, front desk; team members when the
    /// clinic allows). Returns the team (JSON).
    pub fn add_to_care_team(
        &self,
        client_id: String,
        user_id_: String,
        reason: Option<String>,
    ) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        let body = json!({"user_id": user_id(&user_id_)?, "reason": reason});
        self.people_call(Method::POST, format!("/clients/{c}/team/add"), Some(body))
    }

    /// Removes a member from a client's care team: the client is served to them no more,
    /// and their devices drop it at their next contact. Returns the team (JSON).
    pub fn remove_from_care_team(
        &self,
        client_id: String,
        user_id_: String,
        reason: Option<String>,
    ) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        let body = json!({"user_id": user_id(&user_id_)?, "reason": reason});
        self.people_call(
            Method::POST,
            format!("/clients/{c}/team/remove"),
            Some(body),
        )
    }

    /// Hands a client over from one clinician to another in one step. Returns the team.
    pub fn hand_over(
        &self,
        client_id: String,
        from_user_id: String,
        to_user_id: String,
        reason: Option<String>,
    ) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        let body = json!({
            "from_user_id": user_id(&from_user_id)?,
            "to_user_id": user_id(&to_user_id)?,
            "reason": reason,
        });
        self.people_call(
            Method::POST,
            format!("/clients/{c}/team/handover"),
            Some(body),
        )
    }

    /// Emergency access to a client off this clinician's care team, with a typed reason:
    /// granted at once for the clinic's limit, shown to the admins, audited. Sync next to
    /// receive the client. Returns the grant (JSON).
    pub fn break_glass(&self, client_id: String, reason: String) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        self.people_call(
            Method::POST,
            format!("/clients/{c}/break-glass"),
            Some(json!({ "reason": reason })),
        )
    }

    /// Admin: the break-glass alerts, newest first (JSON).
    pub fn break_glass_alerts(&self) -> R<String> {
        self.people_call(Method::GET, "/break-glass".into(), None)
    }

    /// Admin: the clinic's people with their devices and live sessions (JSON).
    pub fn people(&self) -> R<String> {
        self.people_call(Method::GET, "/users".into(), None)
    }

    /// A one-time code that enrolls another device of a person: `user_id` (admin), or this
    /// device's own user when `None`. The new device still needs an admin's approval.
    pub fn invite_device(&self, user_id_: Option<String>) -> R<String> {
        let rest = match user_id_ {
            Some(u) => format!("/users/{}/device-invites", user_id(&u)?),
            None => "/me/device-invites".into(),
        };
        self.people_call(Method::POST, rest, None)
    }

    /// Admin: changes a person's role after a passkey step-up (their sessions end).
    pub fn change_role(
        &self,
        user_id_: String,
        role: String,
        passkey: Arc<dyn PasskeyProvider>,
    ) -> R<String> {
        let u = user_id(&user_id_)?;
        self.admin_step_up(
            passkey,
            Method::POST,
            format!("/users/{u}/role"),
            Some(json!({ "role": role })),
        )
    }

    /// Admin: deactivates a leaver after a passkey step-up: every device revoked and wiped,
    /// sessions ended, care teams left; the history stays.
    pub fn deactivate_user(
        &self,
        user_id_: String,
        reason: String,
        passkey: Arc<dyn PasskeyProvider>,
    ) -> R<String> {
        let u = user_id(&user_id_)?;
        self.admin_step_up(
            passkey,
            Method::POST,
            format!("/users/{u}/deactivate"),
            Some(json!({ "reason": reason })),
        )
    }

    /// Admin: erases a client from the clinic (GDPR Art. 17) after a passkey step-up, with a
    /// typed reason (and a second one when the clinic's retention period still holds the
    /// records). Every stored copy is deleted and every device deletes the client at its next
    /// contact; the audit log keeps that it happened. Returns the ledger entry (JSON).
    pub fn erase_client(
        &self,
        client_id: String,
        reason: String,
        hold_override_reason: Option<String>,
        passkey: Arc<dyn PasskeyProvider>,
    ) -> R<String> {
        let c: ObjectId = parse_id(&client_id, "client")?;
        let mut body = json!({ "reason": reason });
        if let Some(o) = hold_override_reason {
            body["hold_override_reason"] = json!(o);
        }
        self.admin_step_up(
            passkey,
            Method::POST,
            format!("/clients/{c}/erase"),
            Some(body),
        )
    }

    /// Ends one session (admins; or one of this person's own) without revoking its device.
    pub fn end_session(&self, device_id: String, session_id: String) -> R<String> {
        let d: DeviceId = parse_id(&device_id, "device")?;
        if session_id.is_empty()
            || !session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(WardError::InvalidInput {
                detail: "not a session id".into(),
            });
        }
        self.people_call(
            Method::POST,
            format!("/devices/{d}/sessions/{session_id}/end"),
            None,
        )
    }
}
