//! Clinical notes: immutable versions, drafts, signing (locks the note), dated addenda, search.
//!
//! Every edit writes a new version whose parent is the version the user edited. A signed
//! version is final: further edits are refused and only addenda (separate note objects that
//! name the signed version they amend) may follow. If two devices edited the same version, the
//! note has two heads; both are kept and shown as a conflict.

use ward_proto::{Kind, NoteState, ObjectId, VersionId};

use crate::domain::clients::{self, parse_id, validate_text};
use crate::error::{CoreError, Result};
use crate::records::{NoteBodyRecord, NoteRecord, NoteStatusRecord, VersionRef};
use crate::vault::audit::Action;
use crate::vault::index::{VersionEntry, Versions};
use crate::vault::{Ctx, NewVersion, Vault};

const MAX_NOTE_CHARS: usize = 100_000;

/// Note content as the app edits it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum NoteBody {
    /// Free text.
    Text {
        /// The text.
        text: String,
    },
    /// SOAP sections.
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

impl From<NoteBody> for NoteBodyRecord {
    fn from(b: NoteBody) -> Self {
        match b {
            NoteBody::Text { text } => NoteBodyRecord::Text { text },
            NoteBody::Soap {
                subjective,
                objective,
                assessment,
                plan,
            } => NoteBodyRecord::Soap {
                subjective,
                objective,
                assessment,
                plan,
            },
        }
    }
}

impl From<&NoteBodyRecord> for NoteBody {
    fn from(b: &NoteBodyRecord) -> Self {
        match b.clone() {
            NoteBodyRecord::Text { text } => NoteBody::Text { text },
            NoteBodyRecord::Soap {
                subjective,
                objective,
                assessment,
                plan,
            } => NoteBody::Soap {
                subjective,
                objective,
                assessment,
                plan,
            },
        }
    }
}

/// Draft or signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NoteStatus {
    /// Editable.
    Draft,
    /// Signed and locked.
    Signed,
}

impl From<NoteStatusRecord> for NoteStatus {
    fn from(s: NoteStatusRecord) -> Self {
        match s {
            NoteStatusRecord::Draft => NoteStatus::Draft,
            NoteStatusRecord::Signed => NoteStatus::Signed,
        }
    }
}

/// A dated addendum to a signed note.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AddendumView {
    /// The addendum's own id.
    pub addendum_id: String,
    /// Its text.
    pub text: String,
    /// Who wrote it.
    pub author: String,
    /// When.
    pub created_at_ms: i64,
    /// The signed version it amends.
    pub amends_version_id: String,
}

/// A note as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteView {
    /// Note id.
    pub note_id: String,
    /// Current version.
    pub version_id: String,
    /// Client.
    pub client_id: String,
    /// Content.
    pub body: NoteBody,
    /// Draft or signed.
    pub status: NoteStatus,
    /// Author of this version.
    pub author: String,
    /// When this version was written.
    pub created_at_ms: i64,
    /// When signed.
    pub signed_at_ms: Option<i64>,
    /// Addenda, oldest first.
    pub addenda: Vec<AddendumView>,
    /// Number of versions.
    pub version_count: u32,
    /// Other concurrent versions (heads) when two devices edited the same version.
    pub conflicting_version_ids: Vec<String>,
}

/// One line of a client's note list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteSummary {
    /// Note id.
    pub note_id: String,
    /// Current version.
    pub version_id: String,
    /// Draft or signed.
    pub status: NoteStatus,
    /// Start of the text.
    pub preview: String,
    /// Last change.
    pub updated_at_ms: i64,
    /// Whether concurrent versions need resolving.
    pub has_conflict: bool,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchHit {
    /// The client matched (by name) or whose note matched.
    pub client_id: String,
    /// The client's name.
    pub client_name: String,
    /// The matching note, when the hit is in a note.
    pub note_id: Option<String>,
    /// Text around the match.
    pub snippet: String,
}

fn record(id: ObjectId, v: &VersionEntry<NoteRecord>) -> Result<&NoteRecord> {
    v.record
        .as_ref()
        .map_err(|e| CoreError::corrupt(format!("{id}/{}", v.version), e))
}

fn versions<'a>(ctx: &'a Ctx<'_>, id: ObjectId) -> Result<&'a Versions<NoteRecord>> {
    ctx.unlocked
        .index
        .notes
        .get(&id)
        .ok_or_else(|| CoreError::NotFound {
            what: "note",
            id: id.to_string(),
        })
}

fn preview(body: &NoteBodyRecord) -> String {
    let text = body.search_text();
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(80).collect()
}

fn validate(body: &NoteBodyRecord) -> Result<()> {
    if body.is_empty() {
        return Err(CoreError::Invalid("the note is empty".into()));
    }
    validate_text("note", &body.search_text(), MAX_NOTE_CHARS)
}

fn view(ctx: &Ctx<'_>, id: ObjectId) -> Result<NoteView> {
    let vs = versions(ctx, id)?;
    let heads = vs.heads();
    let head = heads
        .first()
        .ok_or_else(|| CoreError::corrupt(id, "no versions"))?;
    let r = record(id, head)?;
    if r.amends.is_some() {
        return Err(CoreError::NotFound {
            what: "note",
            id: id.to_string(),
        });
    }
    let mut addenda: Vec<AddendumView> = ctx
        .unlocked
        .index
        .notes
        .iter()
        .filter_map(|(aid, avs)| {
            let a = avs.current()?.record.as_ref().ok()?;
            let amends = a.amends?;
            (amends.object_id == id).then(|| AddendumView {
                addendum_id: aid.to_string(),
                text: a.body.search_text(),
                author: a.author.clone(),
                created_at_ms: a.created_at_ms,
                amends_version_id: amends.version_id.to_string(),
            })
        })
        .collect();
    addenda.sort_by_key(|a| a.created_at_ms);
    Ok(NoteView {
        note_id: id.to_string(),
        version_id: head.version.to_string(),
        client_id: r.client_id.to_string(),
        body: (&r.body).into(),
        status: r.status.into(),
        author: r.author.clone(),
        created_at_ms: r.created_at_ms,
        signed_at_ms: r.signed_at_ms,
        addenda,
        version_count: vs.all.len() as u32,
        conflicting_version_ids: heads
            .iter()
            .skip(1)
            .map(|h| h.version.to_string())
            .collect(),
    })
}

fn store(
    ctx: &mut Ctx<'_>,
    id: ObjectId,
    parent: Option<VersionId>,
    rec: &NoteRecord,
    action: Action,
) -> Result<()> {
    let json = serde_json::to_vec(rec)?;
    let object = ctx.new_ref(id, Kind::Note);
    ctx.store_record(
        &NewVersion {
            object,
            client: Some(rec.client_id),
            parent,
            plaintext: &json,
            note: Some(rec.envelope_state()),
        },
        action,
    )
}

/// The head version the user based an edit on; refuses stale bases and signed notes.
fn editable_head(ctx: &Ctx<'_>, id: ObjectId, base: VersionId) -> Result<NoteRecord> {
    let vs = versions(ctx, id)?;
    let heads = vs.heads();
    let Some(head) = heads.iter().find(|h| h.version == base) else {
        return Err(CoreError::NotAllowed(
            "the note was changed since you opened it; reopen it to see the latest version".into(),
        ));
    };
    let r = record(id, head)?;
    if r.status == NoteStatusRecord::Signed {
        return Err(CoreError::NotAllowed(
            "the note is signed and locked; add an addendum instead".into(),
        ));
    }
    if r.amends.is_some() {
        return Err(CoreError::NotAllowed("addenda cannot be edited".into()));
    }
    Ok(r.clone())
}

impl Vault {
    /// Starts a draft note for a client.
    pub fn create_note(&self, client_id: &str, body: NoteBody) -> Result<NoteView> {
        let client: ObjectId = parse_id(client_id, "client")?;
        let body: NoteBodyRecord = body.into();
        validate(&body)?;
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let rec = NoteRecord {
                client_id: client,
                body,
                status: NoteStatusRecord::Draft,
                author: ctx.ident.actor.clone(),
                created_at_ms: ctx.now_ms,
                signed_at_ms: None,
                amends: None,
            };
            let id = ObjectId::random();
            store(ctx, id, None, &rec, Action::Create)?;
            view(ctx, id)
        })
    }

    /// Creates many draft notes for one client in a single transaction (bulk entry, imports):
    /// either all are stored or none. Returns the new note ids in order.
    pub fn create_notes(&self, client_id: &str, bodies: Vec<NoteBody>) -> Result<Vec<String>> {
        let client: ObjectId = parse_id(client_id, "client")?;
        let bodies: Vec<NoteBodyRecord> = bodies.into_iter().map(Into::into).collect();
        for b in &bodies {
            validate(b)?;
        }
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let mut ids = Vec::with_capacity(bodies.len());
            let mut jsons = Vec::with_capacity(bodies.len());
            for body in bodies {
                let rec = NoteRecord {
                    client_id: client,
                    body,
                    status: NoteStatusRecord::Draft,
                    author: ctx.ident.actor.clone(),
                    created_at_ms: ctx.now_ms,
                    signed_at_ms: None,
                    amends: None,
                };
                ids.push(ObjectId::random());
                jsons.push(serde_json::to_vec(&rec)?);
            }
            let versions: Vec<NewVersion<'_>> = ids
                .iter()
                .zip(&jsons)
                .map(|(id, json)| NewVersion {
                    object: ctx.new_ref(*id, Kind::Note),
                    client: Some(client),
                    parent: None,
                    plaintext: json,
                    note: Some(NoteState::Draft),
                })
                .collect();
            ctx.store_records(&versions, Action::Create)?;
            Ok(ids.iter().map(ToString::to_string).collect())
        })
    }

    /// Saves an edit of a draft as a new version based on `base_version_id`.
    pub fn edit_note(
        &self,
        note_id: &str,
        base_version_id: &str,
        body: NoteBody,
    ) -> Result<NoteView> {
        let id: ObjectId = parse_id(note_id, "note")?;
        let base: VersionId = parse_id(base_version_id, "version")?;
        let body: NoteBodyRecord = body.into();
        validate(&body)?;
        self.with_unlocked(|ctx| {
            let mut rec = editable_head(ctx, id, base)?;
            rec.body = body;
            rec.author = ctx.ident.actor.clone();
            rec.created_at_ms = ctx.now_ms;
            store(ctx, id, Some(base), &rec, Action::Update)?;
            view(ctx, id)
        })
    }

    /// Signs the draft version `version_id`: writes a signed, locked version.
    pub fn sign_note(&self, note_id: &str, version_id: &str) -> Result<NoteView> {
        let id: ObjectId = parse_id(note_id, "note")?;
        let base: VersionId = parse_id(version_id, "version")?;
        self.with_unlocked(|ctx| {
            if versions(ctx, id)?.heads().len() > 1 {
                return Err(CoreError::NotAllowed(
                    "resolve the conflicting versions before signing".into(),
                ));
            }
            let mut rec = editable_head(ctx, id, base)?;
            rec.status = NoteStatusRecord::Signed;
            rec.author = ctx.ident.actor.clone();
            rec.created_at_ms = ctx.now_ms;
            rec.signed_at_ms = Some(ctx.now_ms);
            store(ctx, id, Some(base), &rec, Action::Sign)?;
            view(ctx, id)
        })
    }

    /// Adds a dated addendum to a signed note.
    pub fn amend_note(&self, note_id: &str, text: &str) -> Result<NoteView> {
        let id: ObjectId = parse_id(note_id, "note")?;
        let body = NoteBodyRecord::Text {
            text: text.trim().to_string(),
        };
        validate(&body)?;
        self.with_unlocked(|ctx| {
            let vs = versions(ctx, id)?;
            let head = vs
                .current()
                .ok_or_else(|| CoreError::corrupt(id, "no versions"))?;
            let signed = record(id, head)?;
            if signed.status != NoteStatusRecord::Signed || signed.amends.is_some() {
                return Err(CoreError::NotAllowed(
                    "only a signed note takes addenda; edit the draft instead".into(),
                ));
            }
            let rec = NoteRecord {
                client_id: signed.client_id,
                body,
                status: NoteStatusRecord::Signed,
                author: ctx.ident.actor.clone(),
                created_at_ms: ctx.now_ms,
                signed_at_ms: Some(ctx.now_ms),
                amends: Some(VersionRef {
                    object_id: id,
                    version_id: head.version,
                }),
            };
            let client = rec.client_id;
            store(ctx, ObjectId::random(), None, &rec, Action::Amend)?;
            // The amend event above names the addendum; name the amended note too.
            ctx.audit(
                ctx.conn,
                Action::Amend,
                Some(Kind::Note),
                Some(id),
                Some(client),
            )?;
            view(ctx, id)
        })
    }

    /// Opens a note (audited as a view).
    pub fn get_note(&self, note_id: &str) -> Result<NoteView> {
        let id: ObjectId = parse_id(note_id, "note")?;
        self.with_unlocked(|ctx| {
            let v = view(ctx, id)?;
            let client = parse_id(&v.client_id, "client")?;
            ctx.audit_view(Kind::Note, id, Some(client))?;
            Ok(v)
        })
    }

    /// Every version of a note, oldest first (audited as a view).
    pub fn note_history(&self, note_id: &str) -> Result<Vec<NoteView>> {
        let id: ObjectId = parse_id(note_id, "note")?;
        self.with_unlocked(|ctx| {
            let vs = versions(ctx, id)?;
            let mut out = Vec::new();
            let mut client = None;
            for v in &vs.all {
                let r = record(id, v)?;
                client = Some(r.client_id);
                out.push(NoteView {
                    note_id: id.to_string(),
                    version_id: v.version.to_string(),
                    client_id: r.client_id.to_string(),
                    body: (&r.body).into(),
                    status: r.status.into(),
                    author: r.author.clone(),
                    created_at_ms: r.created_at_ms,
                    signed_at_ms: r.signed_at_ms,
                    addenda: Vec::new(),
                    version_count: vs.all.len() as u32,
                    conflicting_version_ids: Vec::new(),
                });
            }
            out.sort_by_key(|n| n.created_at_ms);
            ctx.audit_view(Kind::Note, id, client)?;
            Ok(out)
        })
    }

    /// A client's notes (not addenda), newest first.
    pub fn list_notes(&self, client_id: &str) -> Result<Vec<NoteSummary>> {
        let client: ObjectId = parse_id(client_id, "client")?;
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let mut out: Vec<NoteSummary> = ctx
                .unlocked
                .index
                .notes
                .iter()
                .filter_map(|(id, vs)| {
                    let heads = vs.heads();
                    let head = heads.first()?;
                    let r = head.record.as_ref().ok()?;
                    (r.client_id == client && r.amends.is_none()).then(|| NoteSummary {
                        note_id: id.to_string(),
                        version_id: head.version.to_string(),
                        status: r.status.into(),
                        preview: preview(&r.body),
                        updated_at_ms: head.created_at_ms,
                        has_conflict: heads.len() > 1,
                    })
                })
                .collect();
            out.sort_by_key(|n| std::cmp::Reverse(n.updated_at_ms));
            Ok(out)
        })
    }

    /// Searches client names and the current text of notes (case-insensitive substring).
    /// The search is audited; the query text is not.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        self.with_unlocked(|ctx| {
            let index = &ctx.unlocked.index;
            let name_of = |client: &ObjectId| -> Option<String> {
                let c = index.clients.get(client)?.current()?.record.as_ref().ok()?;
                Some(c.display_name.clone())
            };
            let limit = limit as usize;
            let mut hits = Vec::new();
            for (id, vs) in &index.clients {
                if hits.len() >= limit {
                    break;
                }
                if let Some(head) = vs.current().filter(|h| h.search.contains(&q))
                    && let Ok(c) = &head.record
                {
                    hits.push(SearchHit {
                        client_id: id.to_string(),
                        client_name: c.display_name.clone(),
                        note_id: None,
                        snippet: c.display_name.clone(),
                    });
                }
            }
            for (id, vs) in &index.notes {
                if hits.len() >= limit {
                    break;
                }
                let Some(head) = vs.current() else { continue };
                let Some(pos) = head.search.find(&q) else {
                    continue;
                };
                let Ok(r) = &head.record else { continue };
                hits.push(SearchHit {
                    client_id: r.client_id.to_string(),
                    client_name: name_of(&r.client_id).unwrap_or_default(),
                    note_id: Some(id.to_string()),
                    snippet: snippet(&head.search, pos, q.len()),
                });
            }
            ctx.audit(ctx.conn, Action::Search, None, None, None)?;
            Ok(hits)
        })
    }
}

/// Up to 40 characters either side of a match, on character boundaries.
fn snippet(text: &str, pos: usize, len: usize) -> String {
    let mut start = pos.saturating_sub(40);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (pos + len + 40).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
