//! What the sync engine needs from the vault: the outbox (versions the server has not
//! acknowledged), marking versions synced, taking in versions pulled from the server, photo
//! envelopes to upload and download, sealed secrets (device key, session) and plain sync
//! bookkeeping (cursor, last contact).
//!
//! Versions are immutable rows, so an edit made while a push is in flight is a new unsynced row
//! that the next push picks up; marking names exact (object, version) pairs, never "everything
//! up to now". Pulled versions are inserted only if absent, in one transaction per page, and
//! the cursor moves in that same transaction — a crash between two pages repeats at most one
//! page, which the insert-if-absent makes harmless.

use rusqlite::{OptionalExtension, params};
use ward_proto::{Kind, ObjectId, ObjectRef, TenantKey, VersionId};
use zeroize::Zeroizing;

use super::index::{Row, UNKNOWN_KIND, Unreadable};
use super::{Ctx, Vault, meta_get, meta_put, tenant_key_context};
use crate::error::{CoreError, Result};

/// An unsynced inline version, ready to push.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Tenant, object, version and kind.
    pub object: ObjectRef,
    /// The client it concerns.
    pub client: Option<ObjectId>,
    /// The version it supersedes.
    pub parent: Option<VersionId>,
    /// The envelope, exactly as stored.
    pub envelope: Vec<u8>,
}

/// An unsynced photo content envelope (a file), to upload.
#[derive(Debug, Clone)]
pub struct PendingPhoto {
    /// Its reference.
    pub object: ObjectRef,
    /// The client.
    pub client: ObjectId,
    /// Envelope length.
    pub len: u64,
}

/// A version received from the server.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Its reference.
    pub object: ObjectRef,
    /// Client.
    pub client: Option<ObjectId>,
    /// Parent.
    pub parent: Option<VersionId>,
    /// The envelope (absent for photo content: downloaded on demand).
    pub envelope: Option<Vec<u8>>,
}

/// A pulled version of a kind this build does not know, kept as it came.
#[derive(Debug, Clone)]
pub struct UnknownKind {
    /// Object.
    pub object: ObjectId,
    /// Version.
    pub version: VersionId,
    /// The kind's number.
    pub kind: u8,
    /// Client.
    pub client: Option<ObjectId>,
    /// Parent.
    pub parent: Option<VersionId>,
    /// The envelope.
    pub envelope: Option<Vec<u8>>,
}

/// Unsynced work, for the app's "3 notes not synced for 2 days" line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsynced {
    /// Unsynced client records.
    pub clients: u64,
    /// Unsynced note versions.
    pub notes: u64,
    /// Unsynced photos (content not yet uploaded).
    pub photos: u64,
    /// Other unsynced versions (consents, photo details, thumbnails).
    pub other: u64,
    /// When the oldest unsynced version was written.
    pub oldest_at_ms: Option<i64>,
    /// Versions the server refused (kept here; an admin must look at them).
    pub refused: u64,
}

fn id16(b: Vec<u8>) -> Option<[u8; 16]> {
    <[u8; 16]>::try_from(b).ok()
}

fn secret_context(name: &str) -> Vec<u8> {
    let mut c = b"ward vault secret v1\0".to_vec();
    c.extend_from_slice(name.as_bytes());
    c
}

impl Vault {
    /// Reads non-secret sync bookkeeping (works while locked).
    pub fn sync_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with_conn(|c| meta_get(c, &format!("sync.{key}")))
    }

    /// Writes non-secret sync bookkeeping (works while locked).
    pub fn set_sync_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.with_conn(|c| meta_put(c, &format!("sync.{key}"), value))
    }

    /// Removes a sync bookkeeping entry (works while locked).
    pub fn delete_sync_meta(&self, key: &str) -> Result<()> {
        self.with_conn(|c| {
            c.execute(
                "DELETE FROM meta WHERE key = ?1",
                rusqlite::params![format!("sync.{key}")],
            )?;
            Ok(())
        })
    }

    /// Writes several sync bookkeeping entries in one transaction (all or none).
    pub fn set_sync_meta_many(&self, entries: &[(&str, &[u8])]) -> Result<()> {
        self.with_conn(|c| {
            let tx = c.unchecked_transaction()?;
            for (key, value) in entries {
                meta_put(&tx, &format!("sync.{key}"), value)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Reads an integer from sync bookkeeping.
    pub fn sync_meta_i64(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .sync_meta(key)?
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map(i64::from_be_bytes))
    }

    /// Writes an integer to sync bookkeeping.
    pub fn set_sync_meta_i64(&self, key: &str, value: i64) -> Result<()> {
        self.set_sync_meta(key, &value.to_be_bytes())
    }

    /// How many stored versions this build cannot read (0 while locked). Does not count as
    /// activity for the idle lock.
    pub fn unreadable_count(&self) -> u64 {
        self.inner()
            .unlocked
            .as_ref()
            .map_or(0, |u| u.index.unreadable.len() as u64)
    }

    /// Counts of unsynced versions and the age of the oldest (works while locked: ids only).
    pub fn unsynced(&self) -> Result<Unsynced> {
        self.with_conn(|c| {
            let mut out = Unsynced::default();
            let mut s = c.prepare(
                "SELECT kind, synced, COUNT(*), MIN(created_at) FROM objects
                 WHERE synced != 1 GROUP BY kind, synced",
            )?;
            let rows = s.query_map([], |r| {
                Ok((
                    r.get::<_, u8>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (kind, synced, n, oldest) = row?;
                if synced == 2 {
                    out.refused += n;
                    continue;
                }
                match Kind::from_u8(kind) {
                    Some(Kind::Client) => out.clients += n,
                    Some(Kind::Note) => out.notes += n,
                    Some(Kind::PhotoContent) => out.photos += n,
                    _ => out.other += n,
                }
                out.oldest_at_ms = Some(out.oldest_at_ms.map_or(oldest, |o: i64| o.min(oldest)));
            }
            Ok(out)
        })
    }
}

impl Ctx<'_> {
    /// Stores `value` sealed under the vault key.
    pub fn set_secret(&self, name: &str, value: &[u8]) -> Result<()> {
        let sealed = self
            .unlocked
            .vault_key
            .seal_small(&secret_context(name), value)
            .map_err(|_| CoreError::Random)?;
        meta_put(self.conn, &format!("secret.{name}"), &sealed)
    }

    /// Reads a secret stored with [`Ctx::set_secret`].
    pub fn secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let Some(sealed) = meta_get(self.conn, &format!("secret.{name}"))? else {
            return Ok(None);
        };
        let plain = self
            .unlocked
            .vault_key
            .open_small(&secret_context(name), &sealed)
            .map_err(|_| CoreError::corrupt(format!("secret {name}"), "failed to open"))?;
        Ok(Some(Zeroizing::new(plain.to_vec())))
    }

    /// Replaces the tenant keys with the clinic's (released by the server), then re-opens
    /// every record the new keys can open that the old ones could not.
    pub fn install_tenant_keys(&mut self, keys: Vec<TenantKey>) -> Result<()> {
        if keys.is_empty() {
            return Err(CoreError::Invalid("no tenant keys released".into()));
        }
        let tx = self.conn.unchecked_transaction()?;
        for k in &keys {
            let sealed = self
                .unlocked
                .vault_key
                .seal_small(
                    &tenant_key_context(&self.ident.tenant, k.epoch),
                    k.key.expose_secret(),
                )
                .map_err(|_| CoreError::Random)?;
            tx.execute(
                "INSERT INTO tenant_keys (epoch, wrapped) VALUES (?1, ?2)
                 ON CONFLICT (epoch) DO UPDATE SET wrapped = excluded.wrapped",
                params![k.epoch, sealed],
            )?;
        }
        tx.commit()?;
        for k in keys {
            self.unlocked.tenant_keys.retain(|old| old.epoch != k.epoch);
            self.unlocked.tenant_keys.push(k);
        }
        self.unlocked.tenant_keys.sort_by_key(|k| k.epoch);
        self.reload_index()?;
        Ok(())
    }

    /// Up to `max_items` unsynced inline versions totalling at most `max_bytes` of envelope
    /// (at least one if any exists), oldest first, client records first.
    pub fn outbox(&self, max_items: usize, max_bytes: usize) -> Result<Vec<OutboxItem>> {
        let mut s = self.conn.prepare(
            "SELECT object_id, version_id, kind, client_id, parent_version, envelope
             FROM objects WHERE synced = 0 AND envelope IS NOT NULL
             ORDER BY kind != ?1, created_at, rowid LIMIT ?2",
        )?;
        let rows = s.query_map(params![Kind::Client as u8, max_items as i64], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u8>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for row in rows {
            let (o, v, kind, client, parent, envelope) = row?;
            let (Some(o), Some(v), Some(kind)) = (id16(o), id16(v), Kind::from_u8(kind)) else {
                continue;
            };
            if !out.is_empty() && bytes + envelope.len() > max_bytes {
                break;
            }
            bytes += envelope.len();
            out.push(OutboxItem {
                object: ObjectRef {
                    tenant: self.ident.tenant,
                    object: ObjectId::from_bytes(o),
                    version: VersionId::from_bytes(v),
                    kind,
                },
                client: client.and_then(id16).map(ObjectId::from_bytes),
                parent: parent.and_then(id16).map(VersionId::from_bytes),
                envelope,
            });
        }
        Ok(out)
    }

    /// Marks exact versions as acknowledged by the server.
    pub fn mark_synced(&self, versions: &[(ObjectId, VersionId)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut s = tx.prepare(
                "UPDATE objects SET synced = 1 WHERE object_id = ?1 AND version_id = ?2",
            )?;
            for (o, v) in versions {
                s.execute(params![o.as_bytes(), v.as_bytes()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks versions the server refused for good (a conflict or a rejection): they stay in
    /// the vault, leave the outbox, and are counted in [`Unsynced::refused`].
    pub fn mark_refused(&self, versions: &[(ObjectId, VersionId)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut s = tx.prepare(
                "UPDATE objects SET synced = 2 WHERE object_id = ?1 AND version_id = ?2",
            )?;
            for (o, v) in versions {
                s.execute(params![o.as_bytes(), v.as_bytes()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Photo contents not uploaded yet.
    pub fn pending_photos(&self) -> Result<Vec<PendingPhoto>> {
        let mut s = self.conn.prepare(
            "SELECT object_id, version_id, client_id, file_len FROM objects
             WHERE synced = 0 AND kind = ?1 AND file_len IS NOT NULL ORDER BY created_at, rowid",
        )?;
        let rows = s.query_map([Kind::PhotoContent as u8], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (o, v, c, len) = row?;
            let (Some(o), Some(v), Some(c)) = (id16(o), id16(v), c.and_then(id16)) else {
                continue;
            };
            out.push(PendingPhoto {
                object: ObjectRef {
                    tenant: self.ident.tenant,
                    object: ObjectId::from_bytes(o),
                    version: VersionId::from_bytes(v),
                    kind: Kind::PhotoContent,
                },
                client: ObjectId::from_bytes(c),
                len: len as u64,
            });
        }
        Ok(out)
    }

    /// `len` bytes of a stored photo envelope from `offset` (one upload part).
    pub fn photo_envelope_range(
        &self,
        object: &ObjectRef,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        self.blobs.read_range(object, offset, len)
    }

    /// Takes in versions pulled from the server (skipping those already held) and moves the
    /// pull cursor to `cursor`, in one transaction; then adds the new records to the index.
    /// A version whose envelope does not open, or whose record this build cannot parse, is
    /// kept (listed in the index's `unreadable`, shown as damaged), never dropped. Returns
    /// (versions added, of which unreadable).
    pub fn apply_pulled(&mut self, items: &[Incoming], cursor: u64) -> Result<(usize, usize)> {
        let unreadable_before = self.unlocked.index.unreadable.len();
        let tx = self.conn.unchecked_transaction()?;
        let mut added = Vec::new();
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO objects (object_id, version_id, kind, client_id,
                     parent_version, created_at, envelope, file_len, synced)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 1)",
            )?;
            for it in items {
                if it.object.tenant != self.ident.tenant {
                    return Err(CoreError::Invalid(
                        "a pulled version names another clinic".into(),
                    ));
                }
                let n = insert.execute(params![
                    it.object.object.as_bytes(),
                    it.object.version.as_bytes(),
                    it.object.kind as u8,
                    it.client.as_ref().map(|c| c.as_bytes().to_vec()),
                    it.parent.as_ref().map(|p| p.as_bytes().to_vec()),
                    self.now_ms,
                    it.envelope.as_deref(),
                ])?;
                if n == 1 {
                    added.push(it);
                }
            }
        }
        meta_put(&tx, "sync.cursor", &(cursor as i64).to_be_bytes())?;
        tx.commit()?;
        let mut keys_wanted = false;
        for it in &added {
            if !matches!(
                it.object.kind,
                Kind::Client | Kind::Note | Kind::PhotoMeta | Kind::Consent
            ) {
                continue;
            }
            let (note_state, plain) = super::store::open_stated(
                &it.object,
                &self.ring(it.client),
                it.envelope.as_deref(),
            );
            // Sealed under a client key this phone does not hold (a client new to the user, or
            // a rotation): the next key release asks for it, and the record opens then.
            if plain.is_err()
                && let (Some(client), Some(env)) = (it.client, it.envelope.as_deref())
                && let Ok(h) = ward_proto::Header::parse(env)
                && let Some(g) = h.client_generation()
                && !self.holds_client_key(client, g)
            {
                keys_wanted = true;
            }
            let row = Row {
                object: it.object.object,
                version: it.object.version,
                kind: it.object.kind,
                parent: it.parent,
                created_at_ms: self.now_ms,
                note_state,
            };
            self.unlocked
                .index
                .insert(&row, plain.as_deref().map_err(Clone::clone));
        }
        if keys_wanted {
            meta_put(self.conn, super::client_keys::KEYS_WANTED, &[1])?;
        }
        let unreadable = self.unlocked.index.unreadable.len() - unreadable_before;
        Ok((added.len(), unreadable))
    }

    /// Every stored version this build cannot read (kept, never dropped).
    pub fn unreadable(&self) -> Vec<Unreadable> {
        self.unlocked.index.unreadable.clone()
    }

    /// Keeps pulled versions of a kind this build does not know (a newer server or app wrote
    /// them): stored as they came, listed as unreadable, so a newer build can read them.
    /// Returns how many were new.
    pub fn keep_unknown_kind(&mut self, items: &[UnknownKind]) -> Result<usize> {
        let tx = self.conn.unchecked_transaction()?;
        let mut added = Vec::new();
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO objects (object_id, version_id, kind, client_id,
                     parent_version, created_at, envelope, file_len, synced)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 1)",
            )?;
            for it in items {
                let n = insert.execute(params![
                    it.object.as_bytes(),
                    it.version.as_bytes(),
                    it.kind,
                    it.client.as_ref().map(|c| c.as_bytes().to_vec()),
                    it.parent.as_ref().map(|p| p.as_bytes().to_vec()),
                    self.now_ms,
                    it.envelope.as_deref(),
                ])?;
                if n == 1 {
                    added.push(it);
                }
            }
        }
        tx.commit()?;
        for it in &added {
            self.unlocked.index.unreadable.push(Unreadable {
                object_id: it.object.to_string(),
                version_id: it.version.to_string(),
                kind: it.kind.to_string(),
                reason: UNKNOWN_KIND.into(),
            });
        }
        Ok(added.len())
    }

    /// Stores a downloaded photo envelope after checking that it opens under the tenant keys
    /// and is the one the record names.
    pub fn store_downloaded_photo(&self, object: &ObjectRef, envelope: &[u8]) -> Result<()> {
        let client: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT client_id FROM objects WHERE object_id = ?1 AND version_id = ?2",
                params![object.object.as_bytes(), object.version.as_bytes()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let client = client
            .and_then(|c| <[u8; 16]>::try_from(c).ok())
            .map(ObjectId::from_bytes);
        let len = self
            .blobs
            .write_envelope(object, envelope, &self.ring(client))?;
        self.conn.execute(
            "UPDATE objects SET file_len = ?3 WHERE object_id = ?1 AND version_id = ?2",
            params![
                object.object.as_bytes(),
                object.version.as_bytes(),
                len as i64
            ],
        )?;
        Ok(())
    }

    /// Whether a photo's content is on this device.
    pub fn has_photo_content(&self, object: &ObjectRef) -> Result<bool> {
        let len: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT file_len FROM objects WHERE object_id = ?1 AND version_id = ?2",
                params![object.object.as_bytes(), object.version.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(matches!(len, Some(Some(_))) && self.blobs.exists(object))
    }
}
