//! Export of one client's record (GDPR Art. 15 access, Art. 20 portability; ADR 0017): what the
//! console asks for and what the server answers. The server hands out ciphertext only — every
//! stored version of the client and short-lived download URLs of its photos — and the console
//! decrypts in the browser with the client keys it was released.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, ObjectId, VersionId};

/// Most versions one export page answers (inline envelopes are small; photo content is a URL).
pub const MAX_EXPORT_PAGE: u32 = 500;

/// What an export is for. A patient's own copy ([`ExportPurpose::Record`]) is their right and
/// needs no consent; a use of their photos beyond their care needs an active consent of that
/// scope, checked where the consents can be read (the browser or the phone: the server never
/// sees a consent's content) and named in the request, so the audit log says what it relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportPurpose {
    /// The patient's own record (access or portability): every version, photo and consent.
    Record,
    /// Photos for staff training: needs an active training consent.
    Training,
    /// Photos for marketing: needs an active marketing consent.
    Marketing,
}

impl ExportPurpose {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::Training => "training",
            Self::Marketing => "marketing",
        }
    }

    /// Whether this purpose needs a consent of its own scope.
    pub fn needs_consent(self) -> bool {
        !matches!(self, Self::Record)
    }
}

/// `POST clients/{client}/export` (admin + step-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// What the export is for.
    pub purpose: ExportPurpose,
    /// The active consents of the purpose's scope the exporter relies on (required, non-empty,
    /// for `training` and `marketing`; recorded in the audit log).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_ids: Vec<ObjectId>,
    /// Continue after this feed position (from the previous page's `next_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Most versions on this page (default and maximum [`MAX_EXPORT_PAGE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One stored version of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ExportedVersion {
    /// Feed position.
    pub seq: u64,
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Kind number (as in the envelope header).
    pub kind: u8,
    /// Parent version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_version: Option<VersionId>,
    /// When the server received it.
    pub received_at_ms: i64,
    /// The device that pushed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// The envelope, base64url (absent for photo content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// For photo content: a presigned download URL of the envelope (short-lived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// For photo content: the envelope's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One audit event about the client: who viewed, changed, downloaded or exported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AccessEvent {
    /// When.
    pub at_ms: i64,
    /// Who (a user id, or "system").
    pub actor: String,
    /// From which device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// What ("view", "create", "client.deliver", "photo.download", "client.export", …).
    pub action: String,
    /// What it concerned (an object id, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// "server" (recorded as a request was served) or "device" (the phone's own chain).
    pub source: String,
}

/// A page of a client's export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ClientExport {
    /// The client.
    pub client_id: ObjectId,
    /// What it is for.
    pub purpose: ExportPurpose,
    /// When the server answered.
    pub exported_at_ms: i64,
    /// Versions in feed order.
    pub versions: Vec<ExportedVersion>,
    /// On the first page only: every audit event naming the client, oldest first.
    #[serde(default)]
    pub access_log: Vec<AccessEvent>,
    /// Whether the access log was cut at its bound (the console's audit view has the rest).
    #[serde(default)]
    pub access_log_truncated: bool,
    /// Cursor for the next page.
    pub next_after: u64,
    /// Whether more versions follow.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_purpose_and_refuses_unknown_fields() {
        let r: ExportRequest = serde_json::from_str(
            r#"{"purpose":"marketing","consent_ids":["0b0f5bfa-52ab-4c0c-9d2e-3c6a1c2b7f11"]}"#,
        )
        .unwrap();
        assert_eq!(r.purpose, ExportPurpose::Marketing);
        assert!(r.purpose.needs_consent());
        assert!(!ExportPurpose::Record.needs_consent());
        assert!(serde_json::from_str::<ExportRequest>(r#"{"purpose":"record","x":1}"#).is_err());
        assert!(serde_json::from_str::<ExportRequest>(r#"{"purpose":"sale"}"#).is_err());
    }
}
