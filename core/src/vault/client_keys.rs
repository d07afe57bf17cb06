//! Client keys on the phone (ADR 0015): each sealed under the vault key in `client_keys`,
//! held unsealed only while unlocked. A client's clinical data (notes, photos, thumbnails,
//! consents) is sealed under the newest key of that client (envelope format 3); its identity
//! record stays under the tenant key.
//!
//! Where a key comes from:
//! - the server releases every key of every client the user may read now
//!   ([`Ctx::install_client_keys`]); the release is authoritative: keys of clients it does
//!   not list are deleted here (the data goes with the access change);
//! - a client created on this device, which the server has never acknowledged, gets its first
//!   key here ([`Ctx::seal_key`]), marked unregistered until the server has it
//!   ([`Ctx::unregistered_client_keys`], [`Ctx::mark_client_keys_registered`]). The new key is
//!   committed before anything is sealed under it, so no record can outlive its key.
//!
//! A clinical record of a client whose key this device does not hold cannot be written
//! ([`CoreError::NoClientKey`]); the next sync asks the server for it.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use ward_proto::envelope::{ClientRing, SealKey};
use ward_proto::{ClientKey, Kind, ObjectId, SymmetricKey, TenantId, TenantKey};

use super::{Ctx, meta_put};
use crate::error::{CoreError, Result};

/// Sync bookkeeping: set when a record could not be written for want of a client key, so the
/// next sync asks the server for keys even if nothing else changed.
pub const KEYS_WANTED: &str = "sync.keys_wanted";

/// Client keys held, by client, oldest generation first.
pub type ClientKeys = HashMap<ObjectId, Vec<ClientKey>>;

fn context(tenant: &TenantId, client: &ObjectId, generation: u32) -> Vec<u8> {
    let mut c = b"ward client key v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c.extend_from_slice(client.as_bytes());
    c.extend_from_slice(&generation.to_be_bytes());
    c
}

/// Whether a kind is clinical content of a client, sealed under the client's key.
pub fn is_clinical(kind: Kind) -> bool {
    !matches!(kind, Kind::Client)
}

/// Reads and unseals every client key (at unlock).
pub(super) fn load(
    conn: &Connection,
    vault_key: &SymmetricKey,
    tenant: &TenantId,
) -> Result<ClientKeys> {
    let mut keys = ClientKeys::new();
    let mut stmt =
        conn.prepare("SELECT client_id, generation, wrapped FROM client_keys ORDER BY generation")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    for row in rows {
        let (id, generation, wrapped) = row?;
        let Ok(id) = <[u8; 16]>::try_from(id) else {
            tracing::warn!("skipping a client key row with a malformed id");
            continue;
        };
        let client = ObjectId::from_bytes(id);
        // A damaged key row makes that client's records unreadable, not the vault.
        let Ok(raw) = vault_key.open_small(&context(tenant, &client, generation), &wrapped) else {
            tracing::warn!(%client, generation, "a client key failed to unseal");
            continue;
        };
        let Some(key) = SymmetricKey::from_slice(&raw) else {
            continue;
        };
        keys.entry(client).or_default().push(ClientKey {
            client,
            generation,
            key,
        });
    }
    Ok(keys)
}

/// The key a new version is sealed under: owned, so the caller may keep using the context.
#[derive(Debug, Clone)]
pub enum OwnedSealKey {
    /// The tenant key of the current epoch.
    Tenant(TenantKey),
    /// A client key.
    Client(ClientKey),
}

impl OwnedSealKey {
    /// Borrowed, for the envelope functions.
    pub fn as_seal(&self) -> SealKey<'_> {
        match self {
            OwnedSealKey::Tenant(k) => SealKey::Tenant(k),
            OwnedSealKey::Client(k) => SealKey::Client(k),
        }
    }
}

impl Ctx<'_> {
    /// The keys that open `client`'s records (the tenant keys and that client's keys).
    pub fn ring(&self, client: Option<ObjectId>) -> ClientRing<'_> {
        ClientRing {
            tenant: &self.unlocked.tenant_keys,
            client: client
                .and_then(|c| self.unlocked.client_keys.get(&c))
                .map_or(&[], Vec::as_slice),
            client_id: client,
        }
    }

    /// The key a new version of `kind` of `client` is sealed under: the tenant key for a
    /// client's identity record and for data of no client, else the client's newest key —
    /// made here (and committed) when the client was created on this device and the server has
    /// never acknowledged it. Otherwise [`CoreError::NoClientKey`], and the next sync asks
    /// for the keys.
    pub fn seal_key(&mut self, kind: Kind, client: Option<ObjectId>) -> Result<OwnedSealKey> {
        let Some(client) = client.filter(|_| is_clinical(kind)) else {
            return Ok(OwnedSealKey::Tenant(self.unlocked.current_key()?.clone()));
        };
        if let Some(k) = self
            .unlocked
            .client_keys
            .get(&client)
            .and_then(|ks| ks.iter().max_by_key(|k| k.generation))
        {
            return Ok(OwnedSealKey::Client(k.clone()));
        }
        if !self.server_knows(client)? {
            let key = ClientKey::generate(client, 1).map_err(|_| CoreError::Random)?;
            self.store_client_key(&key, false)?;
            self.unlocked
                .client_keys
                .entry(client)
                .or_default()
                .push(key.clone());
            return Ok(OwnedSealKey::Client(key));
        }
        self.unlocked.keys_wanted = true;
        meta_put(self.conn, KEYS_WANTED, &[1])?;
        Err(CoreError::NoClientKey { client })
    }

    /// Whether the server has acknowledged any version of `client` or naming it.
    fn server_knows(&self, client: ObjectId) -> Result<bool> {
        let id = client.as_bytes().as_slice();
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM objects
                 WHERE (object_id = ?1 OR client_id = ?1) AND synced = 1)",
            [id],
            |r| r.get(0),
        )?)
    }

    fn store_client_key(&self, key: &ClientKey, registered: bool) -> Result<()> {
        let sealed = self
            .unlocked
            .vault_key
            .seal_small(
                &context(&self.ident.tenant, &key.client, key.generation),
                key.key.expose_secret(),
            )
            .map_err(|_| CoreError::Random)?;
        self.conn.execute(
            "INSERT INTO client_keys (client_id, generation, wrapped, registered)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (client_id, generation)
             DO UPDATE SET wrapped = excluded.wrapped, registered = excluded.registered",
            params![
                key.client.as_bytes().as_slice(),
                key.generation,
                sealed,
                registered
            ],
        )?;
        Ok(())
    }

    /// Installs the client keys the server released: the complete set this user may hold.
    /// Keys of clients not listed are deleted (except first keys made here and not yet
    /// registered); records that now open are indexed. Returns the clients whose keys went.
    pub fn install_client_keys(&mut self, keys: Vec<ClientKey>) -> Result<Vec<ObjectId>> {
        let tx = self.conn.unchecked_transaction()?;
        let mut released = ClientKeys::new();
        for k in keys {
            self.store_client_key(&k, true)?;
            released.entry(k.client).or_default().push(k);
        }
        let mut gone = Vec::new();
        for (client, held) in &self.unlocked.client_keys {
            let unregistered: Vec<u32> = if self.has_unsent(*client)? {
                held.iter().map(|k| k.generation).collect()
            } else {
                self.unregistered_generations(*client)?
            };
            for k in held {
                let listed = released
                    .get(client)
                    .is_some_and(|r| r.iter().any(|x| x.generation == k.generation));
                if !listed && !unregistered.contains(&k.generation) {
                    tx.execute(
                        "DELETE FROM client_keys WHERE client_id = ?1 AND generation = ?2",
                        params![client.as_bytes().as_slice(), k.generation],
                    )?;
                    if !gone.contains(client) {
                        gone.push(*client);
                    }
                }
            }
            for g in unregistered {
                if let Some(k) = held.iter().find(|k| k.generation == g) {
                    let entry = released.entry(*client).or_default();
                    if !entry.iter().any(|x| x.generation == g) {
                        entry.push(k.clone());
                    }
                }
            }
        }
        meta_put(&tx, KEYS_WANTED, &[0])?;
        tx.commit()?;
        self.unlocked.keys_wanted = false;
        for ks in released.values_mut() {
            ks.sort_by_key(|k| k.generation);
        }
        gone.retain(|c| !released.contains_key(c));
        self.unlocked.client_keys = released;
        self.reload_index()?;
        Ok(gone)
    }

    /// Opens every stored record again with the keys now held (after a release changed them).
    pub(super) fn reload_index(&mut self) -> Result<()> {
        self.unlocked.index = super::load_index(
            self.conn,
            &self.ident.tenant,
            &self.unlocked.tenant_keys,
            &self.unlocked.client_keys,
        )?;
        Ok(())
    }

    /// Whether the access lists a client key generation this phone does not hold.
    pub fn lacks_newest_keys(&self, access: &[ward_proto::people::ClientAccess]) -> bool {
        access.iter().any(|a| {
            a.key
                .is_some_and(|g| !self.holds_client_key(a.client_id, g))
        })
    }

    /// Whether this phone holds `client`'s key of `generation`.
    pub(super) fn holds_client_key(&self, client: ObjectId, generation: u32) -> bool {
        self.unlocked
            .client_keys
            .get(&client)
            .is_some_and(|ks| ks.iter().any(|k| k.generation == generation))
    }

    /// Whether versions of `client` that never reached the server (unsynced, or refused) are
    /// still here: the keys they are sealed under stay with them, so the user's own work stays
    /// readable on this phone until it is pushed or rescued.
    pub(super) fn has_unsent(&self, client: ObjectId) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM objects
                 WHERE (object_id = ?1 OR client_id = ?1) AND synced != 1)",
            [client.as_bytes().as_slice()],
            |r| r.get(0),
        )?)
    }

    fn unregistered_generations(&self, client: ObjectId) -> Result<Vec<u32>> {
        let mut s = self.conn.prepare(
            "SELECT generation FROM client_keys WHERE client_id = ?1 AND registered = 0",
        )?;
        let rows = s.query_map([client.as_bytes().as_slice()], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// First keys made here that the server does not have yet.
    pub fn unregistered_client_keys(&self) -> Result<Vec<ClientKey>> {
        let mut s = self
            .conn
            .prepare("SELECT client_id, generation FROM client_keys WHERE registered = 0")?;
        let rows = s.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u32>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, generation) = row?;
            let Ok(id) = <[u8; 16]>::try_from(id) else {
                continue;
            };
            let client = ObjectId::from_bytes(id);
            if let Some(k) = self
                .unlocked
                .client_keys
                .get(&client)
                .and_then(|ks| ks.iter().find(|k| k.generation == generation))
            {
                out.push(k.clone());
            }
        }
        Ok(out)
    }

    /// Records that the server now holds these first keys.
    pub fn mark_client_keys_registered(&self, clients: &[ObjectId]) -> Result<()> {
        for c in clients {
            self.conn.execute(
                "UPDATE client_keys SET registered = 1 WHERE client_id = ?1",
                [c.as_bytes().as_slice()],
            )?;
        }
        Ok(())
    }

    /// Whether a record could not be sealed or opened for want of a client key since the
    /// last release.
    pub fn keys_wanted(&self) -> Result<bool> {
        Ok(self.unlocked.keys_wanted
            || super::meta_get(self.conn, KEYS_WANTED)?.is_some_and(|v| v.first() == Some(&1)))
    }

    /// The client keys this phone holds: client and generations, by client.
    pub fn held_client_keys(&self) -> std::collections::BTreeMap<ObjectId, Vec<u32>> {
        self.unlocked
            .client_keys
            .iter()
            .map(|(c, ks)| (*c, ks.iter().map(|k| k.generation).collect()))
            .collect()
    }

    /// Clients with records here and no key: what a release should make keys for.
    pub fn clients_without_keys(&self) -> Vec<ObjectId> {
        self.unlocked
            .index
            .clients
            .keys()
            .filter(|c| !self.unlocked.client_keys.contains_key(c))
            .copied()
            .collect()
    }

    /// Deletes every key of `client` (a drop or an erasure), inside the caller's transaction.
    pub(super) fn delete_client_keys(&mut self, tx: &Connection, client: ObjectId) -> Result<()> {
        tx.execute(
            "DELETE FROM client_keys WHERE client_id = ?1",
            [client.as_bytes().as_slice()],
        )?;
        self.unlocked.client_keys.remove(&client);
        Ok(())
    }
}
