//! The unlocked vault's in-memory view of its records: decrypted once at unlock, dropped
//! (and scrubbed) at lock.
//!
//! Every object keeps all its versions with their parent links. The *heads* of an object are
//! the versions no other version names as parent: one head is the normal case, two or more is
//! a conflict (concurrent edits on two devices) that is surfaced, never resolved silently.
//! Search runs over lower-cased copies of client names and note texts built at unlock, which is
//! what keeps a search of 10k notes well under 50 ms without any plaintext index on disk.

use std::collections::{BTreeMap, HashMap};

use ward_proto::{Kind, NoteState, ObjectId, VersionId};
use zeroize::Zeroize;

use crate::records::{ClientRecord, ConsentRecord, NoteBodyRecord, NoteRecord, PhotoRecord};

/// One decrypted version (or the reason it could not be decrypted).
#[derive(Debug)]
pub struct VersionEntry<R> {
    /// Version id.
    pub version: VersionId,
    /// Previous version, if any.
    pub parent: Option<VersionId>,
    /// When written.
    pub created_at_ms: i64,
    /// The record, or why it is unreadable.
    pub record: Result<R, String>,
    /// Lower-cased searchable text (client names, note bodies), empty otherwise.
    pub search: String,
}

/// All versions of one object.
#[derive(Debug)]
pub struct Versions<R> {
    /// Versions in insertion order.
    pub all: Vec<VersionEntry<R>>,
}

impl<R> Default for Versions<R> {
    fn default() -> Self {
        Self { all: Vec::new() }
    }
}

impl<R> Versions<R> {
    /// Versions no other version descends from, newest first.
    pub fn heads(&self) -> Vec<&VersionEntry<R>> {
        let mut heads: Vec<&VersionEntry<R>> = self
            .all
            .iter()
            .filter(|v| !self.all.iter().any(|o| o.parent == Some(v.version)))
            .collect();
        heads.sort_by_key(|v| std::cmp::Reverse(v.created_at_ms));
        heads
    }

    /// The current version: the newest head.
    pub fn current(&self) -> Option<&VersionEntry<R>> {
        self.heads().into_iter().next()
    }

    /// A version by id.
    pub fn get(&self, version: VersionId) -> Option<&VersionEntry<R>> {
        self.all.iter().find(|v| v.version == version)
    }
}

/// The decrypted records of an unlocked vault.
#[derive(Debug, Default)]
pub struct Index {
    /// Clients.
    pub clients: BTreeMap<ObjectId, Versions<ClientRecord>>,
    /// Notes and addenda.
    pub notes: HashMap<ObjectId, Versions<NoteRecord>>,
    /// Photos' metadata.
    pub photos: HashMap<ObjectId, Versions<PhotoRecord>>,
    /// Consents.
    pub consents: HashMap<ObjectId, Versions<ConsentRecord>>,
    /// Versions kept in the vault that this build cannot read (a damaged envelope, a record
    /// format from a newer build): listed so none disappears without a trace.
    pub unreadable: Vec<Unreadable>,
}

/// A stored version the core cannot read. The envelope stays in the vault (a newer build may
/// read it); the reason never quotes the record's content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Unreadable {
    /// The object.
    pub object_id: String,
    /// The version.
    pub version_id: String,
    /// Its kind ("client", "note", "photo", "consent", or the unknown kind's number).
    pub kind: String,
    /// "cannot be decrypted here" or "unknown record format (a newer Ward may read it)".
    pub reason: String,
}

/// The wording of [`Unreadable::reason`] for a record whose envelope opened but whose content
/// this build cannot parse.
pub const UNKNOWN_FORMAT: &str = "unknown record format (a newer Ward may read it)";
/// The wording of [`Unreadable::reason`] for an envelope that does not open here.
pub const UNDECRYPTABLE: &str = "cannot be decrypted on this device";
/// The wording of [`Unreadable::reason`] for a version of a kind this build does not know.
pub const UNKNOWN_KIND: &str = "unknown kind of record (a newer Ward may read it)";

/// The wording of [`Unreadable::reason`] for a note whose header states another state than
/// its content (a forged or mislabelled version: the server's lock relies on the header).
pub const STATE_MISMATCH: &str =
    "the note's envelope states another state than its content (draft, signed or addendum)";

/// Raw row of an object version for [`Index::insert`].
#[derive(Debug)]
pub struct Row {
    /// Object.
    pub object: ObjectId,
    /// Version.
    pub version: VersionId,
    /// Kind.
    pub kind: Kind,
    /// Parent version.
    pub parent: Option<VersionId>,
    /// Creation time.
    pub created_at_ms: i64,
    /// The note state its envelope header states (format-2 notes; `None` otherwise).
    pub note_state: Option<NoteState>,
}

fn entry<R>(row: &Row, record: Result<R, String>, search: String) -> VersionEntry<R> {
    VersionEntry {
        version: row.version,
        parent: row.parent,
        created_at_ms: row.created_at_ms,
        record,
        search,
    }
}

impl Index {
    /// Adds one decrypted version (or a decryption failure) to the index.
    /// A version that fails to open or to parse is kept as a damaged entry and listed in
    /// [`Index::unreadable`].
    pub fn insert(&mut self, row: &Row, plaintext: Result<&[u8], String>) {
        let reason = match &plaintext {
            Err(_) => Some(UNDECRYPTABLE),
            Ok(_) => None,
        };
        let before = self.unreadable.len();
        self.insert_parsed(row, plaintext);
        let failed = match row.kind {
            Kind::Client => self.clients.get(&row.object).and_then(last_failed),
            Kind::Note => self.notes.get(&row.object).and_then(last_failed),
            Kind::PhotoMeta => self.photos.get(&row.object).and_then(last_failed),
            Kind::Consent => self.consents.get(&row.object).and_then(last_failed),
            Kind::PhotoContent | Kind::Thumbnail => None,
        };
        if let Some(why) = failed
            && self.unreadable.len() == before
        {
            let reason = match reason {
                Some(r) => r,
                None if why == STATE_MISMATCH => STATE_MISMATCH,
                None => UNKNOWN_FORMAT,
            };
            self.unreadable.push(Unreadable {
                object_id: row.object.to_string(),
                version_id: row.version.to_string(),
                kind: kind_name(row.kind).into(),
                reason: reason.into(),
            });
        }

        fn last_failed<R>(v: &Versions<R>) -> Option<&str> {
            v.all
                .last()
                .and_then(|e| e.record.as_ref().err())
                .map(String::as_str)
        }
    }

    fn insert_parsed(&mut self, row: &Row, plaintext: Result<&[u8], String>) {
        fn parse<R: serde::de::DeserializeOwned>(p: Result<&[u8], String>) -> Result<R, String> {
            p.and_then(|b| serde_json::from_slice(b).map_err(|e| format!("unreadable record: {e}")))
        }
        match row.kind {
            Kind::Client => {
                let rec: Result<ClientRecord, _> = parse(plaintext);
                let search = rec
                    .as_ref()
                    .map(|c| c.display_name.to_lowercase())
                    .unwrap_or_default();
                let e = entry(row, rec, search);
                self.clients.entry(row.object).or_default().all.push(e);
            }
            Kind::Note => {
                let rec: Result<NoteRecord, _> =
                    parse(plaintext).and_then(|n: NoteRecord| match row.note_state {
                        Some(stated) if stated != n.envelope_state() => {
                            Err(STATE_MISMATCH.to_string())
                        }
                        _ => Ok(n),
                    });
                let search = rec
                    .as_ref()
                    .map(|n| n.body.search_text().to_lowercase())
                    .unwrap_or_default();
                let e = entry(row, rec, search);
                self.notes.entry(row.object).or_default().all.push(e);
            }
            Kind::PhotoMeta => {
                let e = entry(row, parse(plaintext), String::new());
                self.photos.entry(row.object).or_default().all.push(e);
            }
            Kind::Consent => {
                let e = entry(row, parse(plaintext), String::new());
                self.consents.entry(row.object).or_default().all.push(e);
            }
            Kind::PhotoContent | Kind::Thumbnail => {}
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Client => "client",
        Kind::Note => "note",
        Kind::PhotoMeta => "photo",
        Kind::Consent => "consent",
        Kind::PhotoContent => "photo content",
        Kind::Thumbnail => "thumbnail",
    }
}

fn scrub_opt(s: &mut Option<String>) {
    if let Some(s) = s.as_mut() {
        s.zeroize();
    }
}

fn scrub<R>(versions: &mut Versions<R>, f: impl Fn(&mut R)) {
    for v in &mut versions.all {
        v.search.zeroize();
        if let Ok(r) = v.record.as_mut() {
            f(r);
        }
    }
}

fn scrub_client(c: &mut ClientRecord) {
    c.display_name.zeroize();
    scrub_opt(&mut c.date_of_birth);
    scrub_opt(&mut c.external_ref);
}

fn scrub_note(n: &mut NoteRecord) {
    match &mut n.body {
        NoteBodyRecord::Text { text } => text.zeroize(),
        NoteBodyRecord::Soap {
            subjective,
            objective,
            assessment,
            plan,
        } => {
            for s in [subjective, objective, assessment, plan] {
                s.zeroize();
            }
        }
    }
}

fn scrub_photo(p: &mut PhotoRecord) {
    p.caption.zeroize();
    scrub_opt(&mut p.body_area);
    scrub_opt(&mut p.series_label);
}

fn scrub_consent(c: &mut ConsentRecord) {
    scrub_opt(&mut c.detail);
}

/// Removes `version` from `map[object]` (and `object` once it has no version left),
/// scrubbing what it held. Returns whether it was there.
fn forget_in<M, R>(map: &mut M, object: ObjectId, version: VersionId, f: fn(&mut R)) -> bool
where
    M: ObjectMap<R>,
{
    let Some(versions) = map.versions_mut(&object) else {
        return false;
    };
    let Some(at) = versions.all.iter().position(|v| v.version == version) else {
        return false;
    };
    let mut gone = Versions {
        all: vec![versions.all.remove(at)],
    };
    scrub(&mut gone, f);
    if versions.all.is_empty() {
        map.remove_object(&object);
    }
    true
}

/// The two map types the index keeps objects in.
trait ObjectMap<R> {
    fn versions_mut(&mut self, object: &ObjectId) -> Option<&mut Versions<R>>;
    fn remove_object(&mut self, object: &ObjectId);
}

impl<R> ObjectMap<R> for BTreeMap<ObjectId, Versions<R>> {
    fn versions_mut(&mut self, object: &ObjectId) -> Option<&mut Versions<R>> {
        self.get_mut(object)
    }
    fn remove_object(&mut self, object: &ObjectId) {
        self.remove(object);
    }
}

impl<R> ObjectMap<R> for HashMap<ObjectId, Versions<R>> {
    fn versions_mut(&mut self, object: &ObjectId) -> Option<&mut Versions<R>> {
        self.get_mut(object)
    }
    fn remove_object(&mut self, object: &ObjectId) {
        self.remove(object);
    }
}

impl Index {
    /// Forgets one stored version (the vault deleted its row): its decrypted record is
    /// scrubbed and removed, the object goes once it has no version left, and an
    /// [`Unreadable`] entry naming it is removed too. `kind` is the stored kind number (a kind
    /// this build does not know is only ever listed as unreadable). Returns whether the index
    /// held anything for it.
    pub fn forget(&mut self, object: ObjectId, version: VersionId, kind: u8) -> bool {
        let held = match Kind::from_u8(kind) {
            Some(Kind::Client) => forget_in(&mut self.clients, object, version, scrub_client),
            Some(Kind::Note) => forget_in(&mut self.notes, object, version, scrub_note),
            Some(Kind::PhotoMeta) => forget_in(&mut self.photos, object, version, scrub_photo),
            Some(Kind::Consent) => forget_in(&mut self.consents, object, version, scrub_consent),
            Some(Kind::PhotoContent | Kind::Thumbnail) | None => false,
        };
        let (o, v) = (object.to_string(), version.to_string());
        let before = self.unreadable.len();
        self.unreadable
            .retain(|u| !(u.object_id == o && u.version_id == v));
        held || self.unreadable.len() != before
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        for v in self.clients.values_mut() {
            scrub(v, scrub_client);
        }
        for v in self.notes.values_mut() {
            scrub(v, scrub_note);
        }
        for v in self.photos.values_mut() {
            scrub(v, scrub_photo);
        }
        for v in self.consents.values_mut() {
            scrub(v, scrub_consent);
        }
    }
}
