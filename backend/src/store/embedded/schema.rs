//! The embedded store's SQLite schema: version constant, creation SQL, pragmas and migrations,
//! the same mechanism as the phone vault's (`core/src/vault/schema.rs`).
//!
//! `PRAGMA user_version` records the schema version. [`init`] creates a new database at
//! [`VERSION`] or upgrades an older one step by step ([`upgrade_from`]), inside one
//! transaction, so a failed upgrade leaves the database as it was. A database written by a
//! newer `ward-server` is refused rather than guessed at.
//!
//! Data folders created before the schema was versioned have `user_version` 0 but hold the
//! version 1 tables (perhaps without the audit index, which came later): they are recognised
//! as version 1 and brought to it without touching a row, the missing audit index filled from
//! the log.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::audit;
use crate::error::StoreError;
use crate::store::StoreResult;

/// Current schema version.
pub const VERSION: i32 = 1;

/// Schema version 1, kept verbatim: the layout the embedded store had when versioning began
/// (`IF NOT EXISTS` throughout, as it was, so that adopting an unversioned folder of that
/// layout is running it again). New databases replay every step from it, so the path an
/// upgraded server takes is the path every test database takes.
pub const V1_SQL: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    body   BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS records (
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       BLOB NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (tenant, kind, key)
) STRICT;
CREATE TABLE IF NOT EXISTS objects (
    tenant     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    object_id  TEXT NOT NULL,
    version_id TEXT NOT NULL,
    meta       BLOB NOT NULL,
    envelope   BLOB,
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, object_id, version_id)
) STRICT;
CREATE TABLE IF NOT EXISTS audit (
    tenant TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

CREATE TABLE IF NOT EXISTS audit_ix (
    tenant TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    device TEXT,
    action TEXT NOT NULL,
    client TEXT,
    PRIMARY KEY (tenant, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS audit_ix_device ON audit_ix (tenant, device, seq);
CREATE INDEX IF NOT EXISTS audit_ix_client ON audit_ix (tenant, client, seq);
CREATE TABLE IF NOT EXISTS audit_chain (
    tenant TEXT NOT NULL,
    device TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (tenant, device, seq)
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_ix_append_only_update BEFORE UPDATE ON audit_ix
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_ix_append_only_delete BEFORE DELETE ON audit_ix
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_chain_append_only_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_chain_append_only_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
";

/// Connection settings, outside any transaction (the journal mode cannot change inside one):
/// WAL with full fsync, so a returned write survives power loss and SIGKILL.
pub fn prepare(conn: &Connection) -> StoreResult<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Brings the database to [`VERSION`]: creates an empty one, adopts an unversioned one of the
/// version 1 layout, upgrades an older one, refuses a newer one or a database that is not the
/// embedded store's.
pub fn init(conn: &mut Connection) -> StoreResult<()> {
    // Immediate: a second process opening the same folder waits instead of upgrading too.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > VERSION {
        return Err(StoreError::Backend(format!(
            "the data folder's database has schema version {current}, newer than this \
             ward-server understands ({VERSION}): run a newer ward-server"
        )));
    }
    if current == 0 && !is_empty(&tx)? && !has_table(&tx, "tenants")? {
        return Err(StoreError::Backend(
            "ward.db in the data folder is not an embedded Ward store (no tenants table)".into(),
        ));
    }
    for v in current..VERSION {
        upgrade_from(&tx, v)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// One step: from `version` to `version + 1`.
fn upgrade_from(tx: &Transaction<'_>, version: i32) -> StoreResult<()> {
    match version {
        // A new database, or an unversioned one of the version 1 layout (whose tables already
        // exist; an older one may lack the audit index and chain, created here and filled).
        0 => {
            tx.execute_batch(V1_SQL)?;
            audit::index_unindexed(tx)?;
        }
        v => {
            return Err(StoreError::Backend(format!(
                "no migration from schema version {v}"
            )));
        }
    }
    Ok(())
}

fn is_empty(c: &Connection) -> StoreResult<bool> {
    let n: i64 = c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    Ok(n == 0)
}

fn has_table(c: &Connection, name: &str) -> StoreResult<bool> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use ward_proto::{DeviceId, ObjectId, VersionId};

    use super::*;
    use crate::model::{AuditEntry, AuditRecord, Device, DeviceStatus, Role, StoredObject, User};
    use crate::store::{AuditQuery, Stores};

    fn schema(conn: &Connection) -> Vec<(String, String, String)> {
        let mut s = conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name",
            )
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    fn version(conn: &Connection) -> i32 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    /// The layout before the audit index and chain tables existed.
    fn pre_audit_index_sql() -> &'static str {
        V1_SQL
            .split_once("\nCREATE TABLE IF NOT EXISTS audit_ix")
            .unwrap()
            .0
    }

    #[test]
    fn fresh_database_equals_an_adopted_unversioned_one() {
        let mut fresh = Connection::open_in_memory().unwrap();
        init(&mut fresh).unwrap();
        assert_eq!(version(&fresh), VERSION);

        // Today's layout as ward-server wrote it before versioning: user_version 0.
        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(V1_SQL).unwrap();
        assert_eq!(version(&old), 0);
        init(&mut old).unwrap();
        assert_eq!(version(&old), VERSION);
        assert_eq!(schema(&fresh), schema(&old));

        // And the older layout without the audit index.
        let mut older = Connection::open_in_memory().unwrap();
        older.execute_batch(pre_audit_index_sql()).unwrap();
        init(&mut older).unwrap();
        assert_eq!(schema(&fresh), schema(&older));

        // Opening again changes nothing.
        init(&mut fresh).unwrap();
        assert_eq!(schema(&fresh), schema(&old));
    }

    #[test]
    fn newer_schema_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        init(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let before = schema(&conn);
        let e = init(&mut conn).unwrap_err().to_string();
        assert!(e.contains("newer"), "{e}");
        assert_eq!(version(&conn), VERSION + 1);
        assert_eq!(schema(&conn), before);
    }

    #[test]
    fn a_database_that_is_not_the_store_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT);")
            .unwrap();
        let e = init(&mut conn).unwrap_err().to_string();
        assert!(e.contains("not an embedded Ward store"), "{e}");
        assert_eq!(version(&conn), 0);
        assert_eq!(schema(&conn).len(), 1);
    }

    #[tokio::test]
    async fn audit_entries_older_than_the_index_are_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = ward_proto::TenantId::random();
        let entry = AuditEntry::from(AuditRecord {
            at_ms: 5,
            actor: "admin".into(),
            device_id: None,
            action: "client.view".into(),
            target: None,
        });
        {
            let conn = Connection::open(dir.path().join("ward.db")).unwrap();
            conn.execute_batch(pre_audit_index_sql()).unwrap();
            conn.execute(
                "INSERT INTO audit (tenant, seq, body) VALUES (?1, 1, ?2)",
                rusqlite::params![tenant.to_string(), serde_json::to_vec(&entry).unwrap()],
            )
            .unwrap();
        }
        let (stores, _) = Stores::embedded(dir.path(), "http://localhost").unwrap();
        let q = AuditQuery {
            action: Some("client.view".into()),
            limit: 10,
            ..Default::default()
        };
        let page = stores.audit.query(tenant, &q).await.unwrap();
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].1, entry);
    }

    #[tokio::test]
    async fn unversioned_data_folder_of_todays_layout_opens_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let user = User {
            user_id: uuid::Uuid::new_v4(),
            display_name: "Dr Old".into(),
            role: Role::Clinician,
            created_at_ms: 1,
            deactivated_at_ms: None,
        };
        let device = Device {
            device_id: DeviceId::random(),
            user_id: user.user_id,
            public_key: [7; 32],
            status: DeviceStatus::Active,
            name: "Old phone".into(),
            enrolled_at_ms: 2,
            last_seen_ms: 0,
            wipe: None,
            revocation: None,
            platform: Default::default(),
        };
        let object = StoredObject {
            object_id: ObjectId::random(),
            version_id: VersionId::random(),
            kind: 2,
            client_id: Some(ObjectId::random()),
            parent_version: None,
            seq: 0,
            sha256: "ab".repeat(32),
            size: 3,
            envelope: Some(vec![1, 2, 3]),
            device_id: device.device_id,
            created_at_ms: 3,
            note_state: None,
        };
        let record = AuditRecord {
            at_ms: 4,
            actor: user.user_id.to_string(),
            device_id: Some(device.device_id),
            action: "note.create".into(),
            target: None,
        };
        let (tenant, keys, feed) = {
            let (s, _) = Stores::embedded(dir.path(), "http://localhost").unwrap();
            let tenant = crate::tenants::create_tenant(&s, "Old clinic", 1)
                .await
                .unwrap();
            s.identity.put_user(tenant.id, &user).await.unwrap();
            s.identity
                .add_care_team(tenant.id, ObjectId::random(), user.user_id)
                .await
                .unwrap();
            s.devices.create_device(tenant.id, &device).await.unwrap();
            s.objects.put_object(tenant.id, &object).await.unwrap();
            s.audit.append(tenant.id, &record).await.unwrap();
            let keys = s.tenants.tenant_keys(tenant.id).await.unwrap();
            let feed = s.objects.changes(tenant.id, 0, 10).await.unwrap();
            (tenant, keys, feed)
        };
        // What a data folder written before the schema was versioned looks like.
        {
            let conn = Connection::open(dir.path().join("ward.db")).unwrap();
            conn.pragma_update(None, "user_version", 0).unwrap();
        }
        let (s, _) = Stores::embedded(dir.path(), "http://localhost").unwrap();
        {
            let conn = Connection::open(dir.path().join("ward.db")).unwrap();
            assert_eq!(version(&conn), VERSION);
        }
        assert_eq!(
            s.tenants.get_tenant(tenant.id).await.unwrap(),
            Some(tenant.clone())
        );
        let again = s.tenants.tenant_keys(tenant.id).await.unwrap();
        assert_eq!(again, keys);
        for k in &again {
            s.keys
                .unwrap_tenant_key(tenant.id, &tenant.key_ref, k.purpose(), &k.wrapped)
                .await
                .unwrap();
        }
        assert_eq!(
            s.identity.list_users(tenant.id).await.unwrap(),
            vec![user.clone()]
        );
        assert_eq!(
            s.identity.list_care_teams(tenant.id).await.unwrap().len(),
            1
        );
        assert_eq!(
            s.devices
                .get_device(tenant.id, device.device_id)
                .await
                .unwrap(),
            Some(device)
        );
        assert_eq!(s.objects.changes(tenant.id, 0, 10).await.unwrap(), feed);
        let recent = s.audit.recent(tenant.id, 10).await.unwrap();
        assert!(recent.contains(&record), "{recent:?}");
    }
}
