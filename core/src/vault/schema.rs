//! The vault's SQLite schema: version constant, creation SQL, pragmas and migrations.
//!
//! Only ciphertext envelopes and non-clinical metadata (random ids, kinds, timestamps, sync
//! bookkeeping, the hash-chained audit log of ids) are stored in clear columns. `user_version`
//! records the schema version; [`init`] creates a new database at [`VERSION`] or upgrades an
//! older one step by step, inside one transaction.

use rusqlite::{Connection, Transaction};

use crate::error::Result;

/// Current schema version.
pub const VERSION: i32 = 3;

/// Schema version 1, kept verbatim: new databases replay every migration from it, so the path
/// an upgraded phone takes is the path every test database takes.
pub const V1_SQL: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
-- Tenant keys by epoch, each sealed under the vault key.
CREATE TABLE tenant_keys (
    epoch   INTEGER PRIMARY KEY,
    wrapped BLOB NOT NULL
) STRICT;
-- Every version of every object, as its envelope (inline) or as a file (photos).
CREATE TABLE objects (
    object_id      BLOB NOT NULL,
    version_id     BLOB NOT NULL,
    kind           INTEGER NOT NULL,
    client_id      BLOB,
    parent_version BLOB,
    created_at     INTEGER NOT NULL,
    envelope       BLOB,
    file_len       INTEGER,
    PRIMARY KEY (object_id, version_id)
) STRICT;
CREATE INDEX objects_by_client ON objects (client_id, kind);
-- Per-device hash chain of audit events (ids only, no clinical content).
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    device    BLOB NOT NULL,
    action    TEXT NOT NULL,
    kind      INTEGER,
    object_id BLOB,
    client_id BLOB,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
";

/// Version 1 → 2: sync bookkeeping. `change_counter` lets the sync engine notice a row that
/// changed while a push was in flight; `synced` marks versions and audit events the server
/// has acknowledged.
const V2_SQL: &str = "
ALTER TABLE objects ADD COLUMN change_counter INTEGER NOT NULL DEFAULT 1;
ALTER TABLE objects ADD COLUMN synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN synced INTEGER NOT NULL DEFAULT 0;
CREATE INDEX objects_unsynced ON objects (synced) WHERE synced = 0;
";

/// Version 2 → 3: client keys (ADR 0015), each sealed under the vault key. `registered` is 0
/// for a first key made on this device that the server does not hold yet.
const V3_SQL: &str = "
CREATE TABLE client_keys (
    client_id  BLOB NOT NULL,
    generation INTEGER NOT NULL,
    wrapped    BLOB NOT NULL,
    registered INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (client_id, generation)
) STRICT;
";

/// Connection settings: WAL with full fsync (a returned write survives power loss and
/// SIGKILL), temp storage in memory (no spill files), foreign keys on, and `secure_delete`
/// on: whatever a delete or an overwrite frees (a dropped client's envelopes, a replaced
/// sealed session) is overwritten with zeros in its page and in freed overflow pages, so no
/// free page keeps the ciphertext. Rows are immutable versions, so deletes are rare and the
/// extra writes cost nothing noticeable. Older WAL frames can still hold a copy until a
/// checkpoint: [`checkpoint_truncate`] after a delete that matters.
pub fn prepare(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Copies every WAL frame into the database and truncates the WAL to zero bytes, so no older
/// frame keeps a copy of a page a `secure_delete` delete has just zeroed. Returns whether it
/// completed (`false` when another connection kept it from finishing; the frames then go at
/// a later checkpoint).
pub fn checkpoint_truncate(conn: &Connection) -> Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

/// Brings the database to [`VERSION`], creating it if empty.
pub fn init(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    let current: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > VERSION {
        return Err(crate::error::CoreError::Invalid(format!(
            "vault schema {current} is newer than this app ({VERSION}); update the app"
        )));
    }
    for v in current..VERSION {
        upgrade_from(&tx, v)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

fn upgrade_from(tx: &Transaction<'_>, version: i32) -> Result<()> {
    match version {
        0 => tx.execute_batch(V1_SQL)?,
        1 => tx.execute_batch(V2_SQL)?,
        2 => tx.execute_batch(V3_SQL)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_database_migrates_without_losing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(V1_SQL).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO objects (object_id, version_id, kind, created_at, envelope)
                 VALUES (x'01', x'02', 2, 5, x'abcd')",
                [],
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        prepare(&conn).unwrap();
        init(&mut conn).unwrap();
        let v: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
        let (env, counter, synced): (Vec<u8>, i64, i64) = conn
            .query_row(
                "SELECT envelope, change_counter, synced FROM objects WHERE object_id = x'01'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((env, counter, synced), (vec![0xab, 0xcd], 1, 0));
        // Running init again is a no-op.
        init(&mut conn).unwrap();
    }

    #[test]
    fn fresh_database_equals_migrated_one() {
        let schema = |conn: &Connection| -> Vec<String> {
            let mut s = conn
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let mut fresh = Connection::open_in_memory().unwrap();
        init(&mut fresh).unwrap();
        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(V1_SQL).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        init(&mut old).unwrap();
        assert_eq!(schema(&fresh), schema(&old));
    }

    #[test]
    fn connections_delete_securely() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("s.db")).unwrap();
        prepare(&conn).unwrap();
        let on: i64 = conn
            .pragma_query_value(None, "secure_delete", |r| r.get(0))
            .unwrap();
        assert_eq!(on, 1);
        assert!(checkpoint_truncate(&conn).unwrap());
    }

    #[test]
    fn newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        assert!(init(&mut conn).is_err());
    }
}
