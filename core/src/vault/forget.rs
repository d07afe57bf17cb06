//! Dropping a client from this device: when the server says the user may no longer read a
//! client (taken off its care team, a break-glass access ended), every version of that
//! client the server holds is removed here — the client record, its notes, photos (metadata,
//! thumbnails and the encrypted photo files), consents, and versions of kinds this build does
//! not know that name the client.
//!
//! Versions the server has not acknowledged (in the outbox, or refused) are **kept**: they are
//! a clinician's own work that exists nowhere else (the server would refuse them now anyway,
//! so keeping them exposes nothing new and loses nothing); a later wipe (with its rescue) or a
//! re-added access settles them. They are counted in [`DropOutcome::kept_unsynced`].
//!
//! An **erased** client (the clinic erased the patient, Art. 17: [`Vault::erase_client`])
//! goes whole, unsynced versions included: the patient asked to be forgotten, and the server
//! would refuse them. Either way the client's keys go with the rows (ADR 0015), in the same
//! transaction.
//!
//! The rows go in one SQLite transaction with the `client.drop` audit event. The connection
//! deletes with `secure_delete` on ([`super::schema::prepare`]), and the WAL is checkpointed
//! and truncated after the commit, so neither a free page nor an older WAL frame keeps the
//! dropped ciphertext. Photo files are deleted after the commit: a crash in between leaves
//! only files no row names, which [`super::Vault::open`] removes at the next start
//! ([`super::blobs::BlobStore::sweep`]).

use rusqlite::params;
use ward_proto::people::MyClients;
use ward_proto::{Kind, ObjectId, ObjectRef, VersionId};

use super::audit::Action;
use super::{Ctx, Vault, blobs, meta_get, schema};
use crate::error::Result;

/// Sync bookkeeping entry (under `Vault::sync_meta`) holding the access this device last
/// synced under: `MyClients` as JSON, written by the sync engine, read for "my clients".
pub const ACCESS_META: &str = "access";

/// What [`Vault::drop_client`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropOutcome {
    /// Versions removed from the device (rows, with their files).
    pub dropped_versions: u64,
    /// Versions of the client kept because the server has not acknowledged them.
    pub kept_unsynced: u64,
}

/// Which clients this device holds, for deciding what a change of access means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldClients {
    /// Clients with server-acknowledged versions here (what a drop would remove), by id.
    pub synced: Vec<ObjectId>,
    /// Clients whose first client-record version is here (created on this device, or pulled
    /// from their start): this device has followed them from the beginning of the feed, so
    /// an access that newly includes one needs no pull from the start. By id.
    pub from_start: Vec<ObjectId>,
}

/// One stored version of the client being dropped.
struct Gone {
    object: ObjectId,
    version: VersionId,
    kind: u8,
}

fn id16(b: Vec<u8>) -> Option<[u8; 16]> {
    <[u8; 16]>::try_from(b).ok()
}

impl Ctx<'_> {
    /// Removes every synced version of `client` from this device (see the module docs);
    /// keeps and counts the unsynced ones. Dropping a client the vault does not hold, or
    /// holds only unsynced versions of, changes nothing and records no event.
    pub fn drop_client(&mut self, client: ObjectId) -> Result<DropOutcome> {
        self.remove_client(client, false)
    }

    /// Removes every version of `client` from this device, unsynced ones too, and its keys:
    /// the clinic erased the client (see the module docs).
    pub fn erase_client(&mut self, client: ObjectId) -> Result<DropOutcome> {
        self.remove_client(client, true)
    }

    fn remove_client(&mut self, client: ObjectId, erase: bool) -> Result<DropOutcome> {
        let id = client.as_bytes().as_slice();
        let tx = self.conn.unchecked_transaction()?;
        let mut gone = Vec::new();
        let mut kept_unsynced = 0u64;
        {
            let mut s = tx.prepare(
                "SELECT object_id, version_id, kind, synced FROM objects
                 WHERE client_id = ?1 OR object_id = ?1",
            )?;
            let rows = s.query_map([id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, u8>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (o, v, kind, synced) = row?;
                if synced != 1 && !erase {
                    kept_unsynced += 1;
                    continue;
                }
                if let (Some(o), Some(v)) = (id16(o), id16(v)) {
                    gone.push(Gone {
                        object: ObjectId::from_bytes(o),
                        version: VersionId::from_bytes(v),
                        kind,
                    });
                }
            }
        }
        // Rows with malformed ids are deleted too (they name the client), just not looked up.
        let dropped = tx.execute(
            "DELETE FROM objects WHERE (client_id = ?1 OR object_id = ?1) AND (synced = 1 OR ?2)",
            params![id, erase],
        )? as u64;
        // Unsynced work kept here keeps the keys it is sealed under (an erasure takes both).
        let had_keys = self.unlocked.client_keys.contains_key(&client) && kept_unsynced == 0;
        if had_keys {
            self.delete_client_keys(&tx, client)?;
        }
        if dropped == 0 && !had_keys {
            return Ok(DropOutcome {
                dropped_versions: 0,
                kept_unsynced,
            });
        }
        self.audit(
            &tx,
            Action::ClientDrop,
            Some(Kind::Client),
            Some(client),
            Some(client),
        )?;
        tx.commit()?;

        let mut files = 0usize;
        for g in gone.iter().filter(|g| g.kind == Kind::PhotoContent as u8) {
            let object = ObjectRef {
                tenant: self.ident.tenant,
                object: g.object,
                version: g.version,
                kind: Kind::PhotoContent,
            };
            match self.blobs.remove(&object) {
                Ok(removed) => files += usize::from(removed),
                // The row is gone: the file is an orphan the next open sweeps.
                Err(e) => tracing::warn!(error = %e, "removing a dropped photo file"),
            }
        }
        if files > 0
            && let Err(e) = blobs::sync_dir(self.blobs.dir())
        {
            tracing::warn!(error = %e, "syncing the photo folder after a drop");
        }
        for g in &gone {
            self.unlocked.index.forget(g.object, g.version, g.kind);
        }
        match schema::checkpoint_truncate(self.conn) {
            Ok(true) => {}
            Ok(false) => tracing::warn!("WAL checkpoint after a drop did not complete"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint after a drop"),
        }
        tracing::info!(%client, dropped, kept_unsynced, files, erase, "dropped a client from this device");
        Ok(DropOutcome {
            dropped_versions: dropped,
            kept_unsynced,
        })
    }

    /// Which clients this device holds ([`HeldClients`]).
    pub fn held_clients(&self) -> Result<HeldClients> {
        held_clients(self.conn)
    }

    /// The access this device last synced under, as the sync engine stored it.
    pub fn stored_access(&self) -> Result<Option<MyClients>> {
        stored_access(self.conn)
    }
}

fn ids(conn: &rusqlite::Connection, sql: &str) -> Result<Vec<ObjectId>> {
    let mut s = conn.prepare(sql)?;
    let rows = s.query_map(params![Kind::Client as u8], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(id) = id16(row?) {
            out.push(ObjectId::from_bytes(id));
        }
    }
    Ok(out)
}

fn held_clients(conn: &rusqlite::Connection) -> Result<HeldClients> {
    Ok(HeldClients {
        synced: ids(
            conn,
            "SELECT client_id FROM objects WHERE synced = 1 AND client_id IS NOT NULL
             UNION SELECT object_id FROM objects WHERE synced = 1 AND kind = ?1
             ORDER BY 1",
        )?,
        from_start: ids(
            conn,
            "SELECT DISTINCT object_id FROM objects
             WHERE kind = ?1 AND parent_version IS NULL ORDER BY 1",
        )?,
    })
}

fn stored_access(conn: &rusqlite::Connection) -> Result<Option<MyClients>> {
    match meta_get(conn, &format!("sync.{ACCESS_META}"))? {
        Some(json) => Ok(Some(serde_json::from_slice(&json)?)),
        None => Ok(None),
    }
}

impl Vault {
    /// Removes every server-acknowledged version of `client` from this device — rows, photo
    /// files and decrypted index entries — keeping the unsynced ones, with a `client.drop`
    /// audit event (see `crate::vault::forget`). Needs the vault unlocked.
    pub fn drop_client(&self, client: ObjectId) -> Result<DropOutcome> {
        self.with_unlocked(|ctx| ctx.drop_client(client))
    }

    /// Removes everything of an erased client, unsynced versions and keys included.
    pub fn erase_client(&self, client: ObjectId) -> Result<DropOutcome> {
        self.with_unlocked(|ctx| ctx.erase_client(client))
    }

    /// Which clients this device holds ([`HeldClients`]). Ids only: works while locked.
    pub fn held_clients(&self) -> Result<HeldClients> {
        self.with_conn(held_clients)
    }

    /// The access ("my clients") this device last synced under, if the server sent one.
    /// Works while locked.
    pub fn stored_access(&self) -> Result<Option<MyClients>> {
        self.with_conn(stored_access)
    }
}
