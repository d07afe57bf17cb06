//! `ObjectStore` on the embedded adapter: the `objects` table is the per-tenant change feed
//! (`seq` assigned in the writing transaction, envelopes inline, metadata as JSON); photo
//! upload states are `upload` records.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use ward_proto::{DeviceId, NoteState, ObjectId, TenantId, VersionId};

use super::{Embedded, json, parse, rec_get, rec_put, t};
use crate::error::StoreError;
use crate::model::{StoredObject, UploadState};
use crate::store::{ObjectStore, PutOutcome, StoreResult};

#[derive(Serialize, serde::Deserialize)]
struct ObjectMeta {
    kind: u8,
    client_id: Option<ObjectId>,
    parent_version: Option<VersionId>,
    sha256: String,
    size: u64,
    device_id: DeviceId,
    created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note_state: Option<NoteState>,
}

fn row_to_object(
    seq: i64,
    object_id: &str,
    version_id: &str,
    meta: &[u8],
    envelope: Option<Vec<u8>>,
) -> StoreResult<StoredObject> {
    let m: ObjectMeta = parse(meta)?;
    let bad = |e: uuid::Error| StoreError::Backend(e.to_string());
    Ok(StoredObject {
        object_id: object_id.parse().map_err(bad)?,
        version_id: version_id.parse().map_err(bad)?,
        kind: m.kind,
        client_id: m.client_id,
        parent_version: m.parent_version,
        seq: seq as u64,
        sha256: m.sha256,
        size: m.size,
        envelope,
        device_id: m.device_id,
        created_at_ms: m.created_at_ms,
        note_state: m.note_state,
    })
}

#[async_trait]
impl ObjectStore for Embedded {
    async fn put_object(&self, tenant: TenantId, o: &StoredObject) -> StoreResult<PutOutcome> {
        let mut out = self.put_objects(tenant, std::slice::from_ref(o)).await?;
        out.pop()
            .ok_or_else(|| StoreError::Backend("no outcome for a stored object".into()))
    }

    async fn put_objects(
        &self,
        tenant: TenantId,
        objects: &[StoredObject],
    ) -> StoreResult<Vec<PutOutcome>> {
        let id = t(tenant);
        let mut rows = Vec::with_capacity(objects.len());
        for o in objects {
            let meta = json(&ObjectMeta {
                kind: o.kind,
                client_id: o.client_id,
                parent_version: o.parent_version,
                sha256: o.sha256.clone(),
                size: o.size,
                device_id: o.device_id,
                created_at_ms: o.created_at_ms,
                note_state: o.note_state,
            })?;
            rows.push((
                o.object_id.to_string(),
                o.version_id.to_string(),
                o.sha256.clone(),
                meta,
                o.envelope.clone(),
            ));
        }
        self.run(move |c| {
            // One transaction (one commit) for the whole batch.
            let tx = c.transaction()?;
            let mut next: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM objects WHERE tenant = ?1",
                [&id],
                |r| r.get(0),
            )?;
            let mut out = Vec::with_capacity(rows.len());
            {
                let mut find = tx.prepare(
                    "SELECT seq, meta FROM objects WHERE tenant = ?1 AND object_id = ?2 AND version_id = ?3",
                )?;
                let mut insert = tx.prepare(
                    "INSERT INTO objects (tenant, seq, object_id, version_id, meta, envelope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for (oid, vid, sha, meta, envelope) in &rows {
                    let existing: Option<(i64, Vec<u8>)> = find
                        .query_row(params![id, oid, vid], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((seq, m)) = existing {
                        let m: ObjectMeta = parse(&m)?;
                        out.push(if &m.sha256 == sha {
                            PutOutcome::Duplicate { seq: seq as u64 }
                        } else {
                            PutOutcome::Conflict
                        });
                        continue;
                    }
                    insert.execute(params![id, next, oid, vid, meta, envelope])?;
                    out.push(PutOutcome::Created { seq: next as u64 });
                    next += 1;
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn changes(
        &self,
        tenant: TenantId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let id = t(tenant);
        self.run(move |c| {
            let mut s = c.prepare(
                "SELECT seq, object_id, version_id, meta, envelope FROM objects
                 WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = s.query_map(params![id, after_seq as i64, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, o, v, m, e) = row?;
                out.push(row_to_object(seq, &o, &v, &m, e)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_upload(&self, tenant: TenantId, upload: &UploadState) -> StoreResult<()> {
        let (id, k, body) = (
            t(tenant),
            format!("{}#{}", upload.object_id, upload.version_id),
            json(upload)?,
        );
        self.run(move |c| rec_put(c, &id, "upload", &k, &body, None))
            .await
    }

    async fn get_upload(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<UploadState>> {
        let (id, k) = (t(tenant), format!("{object}#{version}"));
        self.run(move |c| rec_get(c, &id, "upload", &k))
            .await?
            .map(|b| parse(&b))
            .transpose()
    }

    async fn has_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<bool> {
        let (id, o) = (t(tenant), object.to_string());
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT 1 FROM objects WHERE tenant = ?1 AND object_id = ?2 LIMIT 1",
                params![id, o],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
        .await
    }

    async fn any_version(
        &self,
        tenant: TenantId,
        object: ObjectId,
    ) -> StoreResult<Option<StoredObject>> {
        let mut found = self.any_versions(tenant, &[object]).await?;
        Ok(found.remove(&object))
    }

    async fn any_versions(
        &self,
        tenant: TenantId,
        objects: &[ObjectId],
    ) -> StoreResult<std::collections::HashMap<ObjectId, StoredObject>> {
        let (id, ids): (String, Vec<String>) =
            (t(tenant), objects.iter().map(ObjectId::to_string).collect());
        self.run(move |c| {
            let mut out = std::collections::HashMap::new();
            // One query per 500 objects (well under SQLite's bound-parameter limit).
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let sql = format!(
                    "SELECT object_id, seq, version_id, meta FROM objects
                     WHERE tenant = ? AND object_id IN ({marks})"
                );
                let mut stmt = c.prepare(&sql)?;
                let params = std::iter::once(&id).chain(chunk.iter());
                let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                })?;
                for row in rows {
                    let (o, seq, v, meta) = row?;
                    let obj = row_to_object(seq, &o, &v, &meta, None)?;
                    // A version that locks the object wins (the port's contract).
                    match out.entry(obj.object_id) {
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(obj);
                        }
                        std::collections::hash_map::Entry::Occupied(mut e) => {
                            if obj.locks() && !e.get().locks() {
                                e.insert(obj);
                            }
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_object(
        &self,
        tenant: TenantId,
        object: ObjectId,
        version: VersionId,
    ) -> StoreResult<Option<StoredObject>> {
        let (id, o, v) = (t(tenant), object.to_string(), version.to_string());
        self.run(move |c| {
            let row: Option<(i64, Vec<u8>, Option<Vec<u8>>)> = c
                .query_row(
                    "SELECT seq, meta, envelope FROM objects WHERE tenant = ?1 AND object_id = ?2 AND version_id = ?3",
                    params![id, o, v],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(seq, m, e)| row_to_object(seq, &o, &v, &m, e)).transpose()
        })
        .await
    }
}
