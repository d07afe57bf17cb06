//! The object store every domain record goes through: sealing a new version under the
//! current tenant key (a client's identity record) or the client's key (its clinical data,
//! [`super::client_keys`]) and storing it with its audit event in one transaction, opening a stored
//! one, and loading every record into the index at unlock.

use rusqlite::{Connection, OptionalExtension, params};
use ward_proto::envelope::{ClientRing, Envelope, KeyRing};
use ward_proto::{Kind, NoteState, ObjectId, ObjectRef, TenantId, TenantKey, VersionId};

use super::client_keys::ClientKeys;

use super::Ctx;
use super::audit::{self, Action};
use super::index::{Index, Row, UNKNOWN_KIND, Unreadable};
use crate::error::{CoreError, Result};

pub(super) fn load_index(
    conn: &Connection,
    tenant: &TenantId,
    keys: &[TenantKey],
    client_keys: &ClientKeys,
) -> Result<Index> {
    let mut index = Index::default();
    let mut stmt = conn.prepare(
        "SELECT object_id, version_id, kind, parent_version, created_at, envelope, client_id
         FROM objects WHERE kind IN (?1, ?2, ?3, ?4) ORDER BY created_at",
    )?;
    let rows = stmt.query_map(
        params![
            Kind::Client as u8,
            Kind::Note as u8,
            Kind::PhotoMeta as u8,
            Kind::Consent as u8
        ],
        |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u8>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
                r.get::<_, Option<Vec<u8>>>(6)?,
            ))
        },
    )?;
    for row in rows {
        let (object, version, kind, parent, created_at_ms, envelope, client) = row?;
        let client = client
            .and_then(|c| <[u8; 16]>::try_from(c).ok())
            .map(ObjectId::from_bytes);
        let (Ok(object), Ok(version), Some(kind)) = (
            <[u8; 16]>::try_from(object),
            <[u8; 16]>::try_from(version),
            Kind::from_u8(kind),
        ) else {
            tracing::warn!("skipping an object row with malformed ids");
            continue;
        };
        let row = Row {
            object: ObjectId::from_bytes(object),
            version: VersionId::from_bytes(version),
            kind,
            parent: parent
                .and_then(|p| <[u8; 16]>::try_from(p).ok())
                .map(VersionId::from_bytes),
            created_at_ms,
            note_state: None,
        };
        let expected = ObjectRef {
            tenant: *tenant,
            object: row.object,
            version: row.version,
            kind,
        };
        let ring = ClientRing {
            tenant: keys,
            client: client
                .and_then(|c| client_keys.get(&c))
                .map_or(&[], Vec::as_slice),
            client_id: client,
        };
        let (note_state, plain) = open_stated(&expected, &ring, envelope.as_deref());
        if let Err(reason) = &plain {
            tracing::warn!(object = %row.object, version = %row.version, %reason, "damaged record");
        }
        let row = Row { note_state, ..row };
        index.insert(&row, plain.as_deref().map_err(Clone::clone));
    }
    // Versions of kinds this build does not know, kept as pulled: listed, never dropped.
    let mut stmt = conn.prepare(
        "SELECT object_id, version_id, kind FROM objects WHERE kind NOT BETWEEN 1 AND 6",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, u8>(2)?,
        ))
    })?;
    for row in rows {
        let (object, version, kind) = row?;
        if let (Ok(o), Ok(v)) = (<[u8; 16]>::try_from(object), <[u8; 16]>::try_from(version)) {
            index.unreadable.push(Unreadable {
                object_id: ObjectId::from_bytes(o).to_string(),
                version_id: VersionId::from_bytes(v).to_string(),
                kind: kind.to_string(),
                reason: UNKNOWN_KIND.into(),
            });
        }
    }
    Ok(index)
}

/// Opens a stored envelope, returning the note state its header states (format 2 notes) with
/// the plaintext, or why it does not open.
pub(super) fn open_stated(
    expected: &ObjectRef,
    keys: &(impl KeyRing + ?Sized),
    envelope: Option<&[u8]>,
) -> (Option<NoteState>, std::result::Result<Vec<u8>, String>) {
    match envelope {
        Some(env) => match Envelope::open_with_header(expected, keys, env) {
            Ok((header, plain)) => (header.note, Ok(plain)),
            Err(e) => (None, Err(e.to_string())),
        },
        None => (None, Err("envelope missing".to_string())),
    }
}

/// A new object version about to be stored.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// Identity of the version.
    pub object: ObjectRef,
    /// The client it concerns.
    pub client: Option<ObjectId>,
    /// The version it supersedes.
    pub parent: Option<VersionId>,
    /// Plaintext record (JSON) or image bytes.
    pub plaintext: &'a [u8],
    /// For a note version, the state its header states (`None` for every other kind).
    pub note: Option<NoteState>,
}

impl Ctx<'_> {
    /// A reference for a new version of `object` of `kind` in this tenant.
    pub fn new_ref(&self, object: ObjectId, kind: Kind) -> ObjectRef {
        ObjectRef {
            tenant: self.ident.tenant,
            object,
            version: VersionId::random(),
            kind,
        }
    }

    /// Seals `v` under its key ([`Ctx::seal_key`]) and inserts it inline in `tx`.
    pub fn insert_sealed(&mut self, tx: &Connection, v: &NewVersion<'_>) -> Result<()> {
        let key = self.seal_key(v.object.kind, v.client)?;
        let envelope = Envelope::seal_stated(v.object, v.note, key.as_seal(), v.plaintext)?;
        insert_row(tx, v, self.now_ms, Some(&envelope), None)
    }

    /// Opens an inline envelope of `object`, naming the object in any error.
    pub fn open_inline(&self, object: &ObjectRef) -> Result<Vec<u8>> {
        type EnvelopeAndClient = (Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Option<EnvelopeAndClient> = self
            .conn
            .query_row(
                "SELECT envelope, client_id FROM objects WHERE object_id = ?1 AND version_id = ?2",
                params![object.object.as_bytes(), object.version.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (env, client) = row.unwrap_or((None, None));
        let client = client
            .and_then(|c| <[u8; 16]>::try_from(c).ok())
            .map(ObjectId::from_bytes);
        let name = || format!("{}/{}", object.object, object.version);
        let env = env.ok_or_else(|| CoreError::NotFound {
            what: "record",
            id: name(),
        })?;
        Envelope::open(object, &self.ring(client), &env).map_err(|e| CoreError::corrupt(name(), e))
    }

    /// Seals and stores a new version of a record with its audit event, in one transaction,
    /// then adds it to the in-memory index.
    pub fn store_record(&mut self, v: &NewVersion<'_>, action: Action) -> Result<()> {
        self.store_records(std::slice::from_ref(v), action)
    }

    /// Like [`Ctx::store_record`] for many versions in one transaction (all or none).
    pub fn store_records(&mut self, versions: &[NewVersion<'_>], action: Action) -> Result<()> {
        // Any first key a version needs is made and committed before the transaction: no
        // record is ever stored under a key the vault could lose with a rollback.
        for v in versions {
            self.seal_key(v.object.kind, v.client)?;
            // A client created here gets its first key now, so the user can write about
            // them offline even after the identity record alone was synced.
            if v.object.kind == Kind::Client && v.parent.is_none() {
                self.seal_key(Kind::Note, Some(v.object.object))?;
            }
        }
        let conn = self.conn;
        let tx = conn.unchecked_transaction()?;
        for v in versions {
            self.insert_sealed(&tx, v)?;
            self.audit(
                &tx,
                action,
                Some(v.object.kind),
                Some(v.object.object),
                v.client,
            )?;
        }
        tx.commit()?;
        for v in versions {
            let row = Row {
                object: v.object.object,
                version: v.object.version,
                kind: v.object.kind,
                parent: v.parent,
                created_at_ms: self.now_ms,
                note_state: v.note,
            };
            self.unlocked.index.insert(&row, Ok(v.plaintext));
        }
        Ok(())
    }

    /// Records that a record was read (offline reads are audited too).
    pub fn audit_view(&self, kind: Kind, object: ObjectId, client: Option<ObjectId>) -> Result<()> {
        self.audit(self.conn, Action::View, Some(kind), Some(object), client)
    }

    /// Records an audit event in `conn` (inside the caller's transaction if one is open).
    pub fn audit(
        &self,
        conn: &Connection,
        action: Action,
        kind: Option<Kind>,
        object: Option<ObjectId>,
        client: Option<ObjectId>,
    ) -> Result<()> {
        audit::append(conn, self.ident, self.now_ms, action, kind, object, client)
    }
}

/// Inserts an object row (inline envelope or file length).
pub fn insert_row(
    tx: &Connection,
    v: &NewVersion<'_>,
    now_ms: i64,
    envelope: Option<&[u8]>,
    file_len: Option<u64>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO objects (object_id, version_id, kind, client_id, parent_version, created_at,
                              envelope, file_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            v.object.object.as_bytes(),
            v.object.version.as_bytes(),
            v.object.kind as u8,
            v.client.as_ref().map(|c| c.as_bytes().to_vec()),
            v.parent.as_ref().map(|p| p.as_bytes().to_vec()),
            now_ms,
            envelope,
            file_len.map(|l| l as i64),
        ],
    )?;
    Ok(())
}
