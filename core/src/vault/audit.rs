//! The device's hash-chained audit log: every create, view, export, sign and amend of client
//! data, recorded locally (offline reads included) for upload and server-side verification.
//!
//! Appends happen inside the same SQLite transaction as the change they record, so a record
//! never exists without its audit event. The chain format is `ward_proto::audit`.

use rusqlite::{Connection, OptionalExtension, params};
use ward_proto::audit::{AuditEvent, ChainError, GENESIS, verify_chain};
use ward_proto::{DeviceId, Kind, ObjectId};

use super::{Identity, Vault};
use crate::error::{CoreError, Result};

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A record was created.
    Create,
    /// A record was opened / read.
    View,
    /// A new version of a record was written.
    Update,
    /// A note was signed.
    Sign,
    /// An addendum was added to a signed note.
    Amend,
    /// Content left the vault in clear (export / share for the client's care).
    Export,
    /// A photo left the vault in clear for staff training (under an active training consent).
    ExportTraining,
    /// A photo left the vault in clear for marketing (under an active marketing consent).
    ExportMarketing,
    /// A consent was withdrawn.
    Withdraw,
    /// A search over client data was run (the query itself is not logged).
    Search,
    /// The vault was unlocked.
    Unlock,
    /// A client's data was removed from this device because the user may no longer read it
    /// (taken off the care team, or a break-glass access ended).
    ClientDrop,
}

impl Action {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::View => "view",
            Action::Update => "update",
            Action::Sign => "sign",
            Action::Amend => "amend",
            Action::Export => "export",
            Action::ExportTraining => "export.training",
            Action::ExportMarketing => "export.marketing",
            Action::Withdraw => "withdraw",
            Action::Search => "search",
            Action::Unlock => "unlock",
            Action::ClientDrop => "client.drop",
        }
    }
}

fn id_bytes(id: Option<ObjectId>) -> Option<Vec<u8>> {
    id.map(|i| i.as_bytes().to_vec())
}

/// Appends an event to the chain.
pub fn append(
    conn: &Connection,
    ident: &Identity,
    now_ms: i64,
    action: Action,
    kind: Option<Kind>,
    object: Option<ObjectId>,
    client: Option<ObjectId>,
) -> Result<()> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (prev_seq, prev_hash) = match last {
        Some((seq, hash)) => (
            seq as u64,
            <[u8; 32]>::try_from(hash).map_err(|_| CoreError::corrupt("audit log", "bad hash"))?,
        ),
        None => (0, GENESIS),
    };
    let event = AuditEvent {
        seq: prev_seq + 1,
        at_ms: now_ms,
        actor: ident.actor.clone(),
        device: ident.device,
        action: action.as_str().to_string(),
        kind: kind.map(|k| k as u8),
        object,
        client,
    };
    let hash = event.chain_hash(&prev_hash);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, device, action, kind, object_id, client_id,
                            prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            event.seq as i64,
            event.at_ms,
            event.actor,
            event.device.as_bytes(),
            event.action,
            event.kind,
            id_bytes(object),
            id_bytes(client),
            prev_hash.as_slice(),
            hash.as_slice(),
        ],
    )?;
    Ok(())
}

type Stored = (AuditEvent, [u8; 32]);

fn read_events(conn: &Connection, after_seq: u64, limit: u32) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, device, action, kind, object_id, client_id, hash
         FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq as i64, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<u8>>(5)?,
            r.get::<_, Option<Vec<u8>>>(6)?,
            r.get::<_, Option<Vec<u8>>>(7)?,
            r.get::<_, Vec<u8>>(8)?,
        ))
    })?;
    let bad = || CoreError::corrupt("audit log", "malformed row");
    let id = |b: Option<Vec<u8>>| -> Result<Option<ObjectId>> {
        b.map(|b| {
            <[u8; 16]>::try_from(b)
                .map(ObjectId::from_bytes)
                .map_err(|_| bad())
        })
        .transpose()
    };
    let mut out = Vec::new();
    for row in rows {
        let (seq, at_ms, actor, device, action, kind, object, client, hash) = row?;
        out.push((
            AuditEvent {
                seq: seq as u64,
                at_ms,
                actor,
                device: DeviceId::from_bytes(device.try_into().map_err(|_| bad())?),
                action,
                kind,
                object: id(object)?,
                client: id(client)?,
            },
            hash.try_into().map_err(|_| bad())?,
        ));
    }
    Ok(out)
}

impl Vault {
    /// Audit events after `after_seq`, oldest first, at most `limit`. Readable while locked:
    /// it holds ids only.
    pub fn audit_events(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEvent>> {
        self.with_conn(|conn| {
            Ok(read_events(conn, after_seq, limit)?
                .into_iter()
                .map(|(e, _)| e)
                .collect())
        })
    }

    /// Audit events the server has not acknowledged yet, with their chain hashes, oldest
    /// first, at most `limit` (for upload; readable while locked: ids only).
    pub fn unsynced_audit(&self, limit: u32) -> Result<Vec<(AuditEvent, [u8; 32])>> {
        self.with_conn(|conn| {
            let first: Option<i64> = conn
                .query_row("SELECT MIN(seq) FROM audit WHERE synced = 0", [], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
            // Acknowledgements mark a prefix of the chain, so everything from the first
            // unsynced event on is unsynced.
            match first {
                Some(first) => read_events(conn, (first - 1).max(0) as u64, limit),
                None => Ok(Vec::new()),
            }
        })
    }

    /// Marks audit events up to `seq` as acknowledged by the server.
    pub fn mark_audit_synced(&self, up_to_seq: u64) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                "UPDATE audit SET synced = 1 WHERE seq <= ?1 AND synced = 0",
                params![up_to_seq as i64],
            )?;
            Ok(())
        })
    }

    /// Number of audit events not yet acknowledged by the server.
    pub fn unsynced_audit_count(&self) -> Result<u64> {
        self.with_conn(|conn| {
            let n: i64 =
                conn.query_row("SELECT COUNT(*) FROM audit WHERE synced = 0", [], |r| {
                    r.get(0)
                })?;
            Ok(n as u64)
        })
    }

    /// Recomputes the whole chain; returns the number of events, or where it breaks.
    pub fn verify_audit_chain(&self) -> Result<std::result::Result<u64, ChainError>> {
        self.with_conn(|conn| {
            let events = read_events(conn, 0, u32::MAX)?;
            Ok(verify_chain(0, GENESIS, events.iter().map(|(e, h)| (e, h)))
                .map(|_| events.len() as u64))
        })
    }
}
