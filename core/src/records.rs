//! The plaintext records sealed inside envelopes: clients, notes, photos' metadata, consents.
//!
//! These are serialised as JSON inside the envelope (never stored in clear). Field names are
//! part of the sync format: add fields with `#[serde(default)]`, never rename or remove.

use serde::{Deserialize, Serialize};
use ward_proto::{NoteState, ObjectId, VersionId};

/// A client (patient).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientRecord {
    /// Name as shown to staff.
    pub display_name: String,
    /// Date of birth (ISO 8601 date), if recorded.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    /// The clinic's own reference (chart number), if any.
    #[serde(default)]
    pub external_ref: Option<String>,
    /// Creation time (ms since the Unix epoch).
    pub created_at_ms: i64,
    /// Who created it.
    pub created_by: String,
}

/// A note's content: free text or SOAP sections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NoteBodyRecord {
    /// Free text.
    Text {
        /// The text.
        text: String,
    },
    /// Subjective / objective / assessment / plan.
    Soap {
        /// Subjective.
        subjective: String,
        /// Objective.
        objective: String,
        /// Assessment.
        assessment: String,
        /// Plan.
        plan: String,
    },
}

impl NoteBodyRecord {
    /// All text of the body, for search.
    pub fn search_text(&self) -> String {
        match self {
            NoteBodyRecord::Text { text } => text.clone(),
            NoteBodyRecord::Soap {
                subjective,
                objective,
                assessment,
                plan,
            } => {
                format!("{subjective}\n{objective}\n{assessment}\n{plan}")
            }
        }
    }

    /// Whether every section is empty.
    pub fn is_empty(&self) -> bool {
        self.search_text().trim().is_empty()
    }
}

/// Where a note version is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoteStatusRecord {
    /// Editable (each edit is a new immutable version).
    Draft,
    /// Signed and locked; only addenda may follow.
    Signed,
}

/// A reference to one version of an object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionRef {
    /// The object.
    pub object_id: ObjectId,
    /// The version.
    pub version_id: VersionId,
}

/// One immutable version of a note or addendum.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoteRecord {
    /// The client it is about.
    pub client_id: ObjectId,
    /// Content.
    pub body: NoteBodyRecord,
    /// Draft or signed.
    pub status: NoteStatusRecord,
    /// Author of this version.
    pub author: String,
    /// When this version was written.
    pub created_at_ms: i64,
    /// When it was signed, for signed versions.
    #[serde(default)]
    pub signed_at_ms: Option<i64>,
    /// For an addendum: the signed note version it amends.
    #[serde(default)]
    pub amends: Option<VersionRef>,
}

impl NoteRecord {
    /// The state its envelope header states (format 2): what the server keeps locked, and
    /// what a reader checks the header against.
    pub fn envelope_state(&self) -> NoteState {
        match (self.amends, self.status) {
            (Some(_), _) => NoteState::Addendum,
            (None, NoteStatusRecord::Signed) => NoteState::Signed,
            (None, NoteStatusRecord::Draft) => NoteState::Draft,
        }
    }
}

/// Consent scopes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScopeRecord {
    /// Clinical documentation.
    Clinical,
    /// Use in staff training.
    Training,
    /// Use in marketing.
    Marketing,
}

/// One version of a consent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The client who consented.
    pub client_id: ObjectId,
    /// What was consented to.
    pub scopes: Vec<ConsentScopeRecord>,
    /// When consent was given.
    pub given_at_ms: i64,
    /// Who recorded it.
    pub recorded_by: String,
    /// Free-text detail (how it was obtained), if any.
    #[serde(default)]
    pub detail: Option<String>,
    /// Set when withdrawn.
    #[serde(default)]
    pub withdrawn_at_ms: Option<i64>,
}

/// A photo's metadata.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhotoRecord {
    /// The client photographed.
    pub client_id: ObjectId,
    /// Caption.
    #[serde(default)]
    pub caption: String,
    /// Body area tag, e.g. "face/left-cheek".
    #[serde(default)]
    pub body_area: Option<String>,
    /// The consent under which it was taken.
    #[serde(default)]
    pub consent_id: Option<ObjectId>,
    /// A before/after series this photo belongs to, and its label in it.
    #[serde(default)]
    pub series: Option<String>,
    /// Label inside the series ("before", "after", "week 2").
    #[serde(default)]
    pub series_label: Option<String>,
    /// MIME type of the stored image.
    pub content_type: String,
    /// Stored image length in bytes.
    pub byte_len: u64,
    /// EXIF orientation (1–8) kept from the camera.
    #[serde(default)]
    pub orientation: Option<u16>,
    /// Metadata segments removed at capture.
    #[serde(default)]
    pub removed_metadata: Vec<String>,
    /// Capture time.
    pub taken_at_ms: i64,
    /// Who captured it.
    pub taken_by: String,
    /// The version of the photo's content envelope.
    pub content_version: VersionId,
    /// The version of the thumbnail envelope, if there is one.
    #[serde(default)]
    pub thumbnail_version: Option<VersionId>,
}
