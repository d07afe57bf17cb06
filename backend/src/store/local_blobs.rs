//! Photo blobs on the local disk, with the same flow as S3 multipart + presigned URLs: the
//! embedded adapter's URLs point back at this server (`/blobs/...`) and are signed with an
//! HMAC key kept in the data folder, carry an expiry, and name one upload and part, so a URL
//! cannot be reused for another object, part or time.
//!
//! Parts are written as files under `uploads/<id>/`, each fsynced; completing concatenates
//! them in order into the final file (temp + fsync + rename), exactly once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ring::digest::{SHA256, digest};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ward_proto::{ObjectId, TenantId};

use super::{BlobKey, BlobStore, StoreResult};
use crate::error::StoreError;
use crate::model::PartInfo;

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Local blob storage.
pub struct LocalBlobs {
    dir: PathBuf,
    key: hmac::Key,
    public_url: String,
}

impl std::fmt::Debug for LocalBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobs")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What a signed local URL authorises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalGrant {
    /// Blob path relative to the blob folder (`tenants/<t>/objects/<o>/<v>`).
    pub path: String,
    /// Upload id and part number for a PUT; `None` for a GET.
    pub part: Option<(String, u32)>,
}

impl LocalBlobs {
    /// Opens (creating) the blob folder; `public_url` is this server's base URL.
    pub fn open(dir: &Path, public_url: &str) -> StoreResult<Arc<Self>> {
        std::fs::create_dir_all(dir.join("uploads")).map_err(io)?;
        let key_path = dir.join("url-signing.key");
        let secret = match std::fs::read(&key_path) {
            Ok(k) if k.len() == 32 => {
                super::secret_file::tighten(&key_path)?;
                k
            }
            _ => {
                let mut k = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut k)
                    .map_err(|_| StoreError::Backend("rng".into()))?;
                super::secret_file::write(&key_path, &k)?;
                k
            }
        };
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            public_url: public_url.trim_end_matches('/').to_string(),
        }))
    }

    fn sign(&self, method: &str, path: &str, part: Option<(&str, u32)>, expires: i64) -> String {
        let (u, n) = part.map(|(u, n)| (u.to_string(), n)).unwrap_or_default();
        let msg = format!("{method}\n{path}\n{u}\n{n}\n{expires}");
        hex::encode(hmac::sign(&self.key, msg.as_bytes()))
    }

    fn url(&self, method: &str, path: &str, part: Option<(&str, u32)>, ttl_s: u32) -> String {
        let expires = now_ms() + i64::from(ttl_s) * 1000;
        let sig = self.sign(method, path, part, expires);
        match part {
            Some((u, n)) => format!(
                "{}/blobs/{path}?upload={u}&part={n}&expires={expires}&sig={sig}",
                self.public_url
            ),
            None => format!(
                "{}/blobs/{path}?expires={expires}&sig={sig}",
                self.public_url
            ),
        }
    }

    /// Checks a signed URL's path and query for `method`; returns what it grants.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        query: &str,
    ) -> Result<LocalGrant, &'static str> {
        let get = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        };
        let expires: i64 = get("expires")
            .and_then(|e| e.parse().ok())
            .ok_or("missing expiry")?;
        let sig = get("sig").ok_or("missing signature")?;
        let part = match (get("upload"), get("part")) {
            (Some(u), Some(n)) => Some((u.to_string(), n.parse::<u32>().map_err(|_| "bad part")?)),
            (None, None) => None,
            _ => return Err("malformed URL"),
        };
        if path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            || !path.starts_with("tenants/")
        {
            return Err("bad path");
        }
        let sig_bytes = hex::decode(sig).map_err(|_| "bad signature")?;
        let msg = format!(
            "{method}\n{path}\n{}\n{}\n{expires}",
            part.as_ref().map(|p| p.0.as_str()).unwrap_or(""),
            part.as_ref().map(|p| p.1).unwrap_or(0)
        );
        hmac::verify(&self.key, msg.as_bytes(), &sig_bytes).map_err(|_| "bad signature")?;
        if expires < now_ms() {
            return Err("URL expired");
        }
        Ok(LocalGrant {
            path: path.to_string(),
            part,
        })
    }

    fn upload_dir(&self, upload_id: &str) -> StoreResult<PathBuf> {
        if upload_id.is_empty()
            || !upload_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(StoreError::Backend("bad upload id".into()));
        }
        Ok(self.dir.join("uploads").join(upload_id))
    }

    /// Whether the upload in `dir` was started for `key` of `tenant`.
    fn upload_targets(&self, dir: &Path, tenant: TenantId, key: BlobKey) -> bool {
        std::fs::read_to_string(dir.join("target")).is_ok_and(|t| t == key.path(tenant))
    }

    /// Stores one part received through a verified PUT URL.
    pub fn write_part(&self, grant: &LocalGrant, bytes: &[u8]) -> StoreResult<PartInfo> {
        let (upload_id, number) = grant
            .part
            .clone()
            .ok_or_else(|| StoreError::Backend("not a part URL".into()))?;
        let dir = self.upload_dir(&upload_id)?;
        let target = std::fs::read_to_string(dir.join("target"))
            .map_err(|_| StoreError::Conflict("no such upload".into()))?;
        if target != grant.path {
            return Err(StoreError::Conflict(
                "upload belongs to another object".into(),
            ));
        }
        let etag = hex::encode(digest(&SHA256, bytes));
        let tmp = dir.join(format!("{number}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, dir.join(format!("{number}.part"))).map_err(io)?;
        std::fs::write(dir.join(format!("{number}.etag")), &etag).map_err(io)?;
        Ok(PartInfo {
            number,
            etag,
            size: bytes.len() as u64,
        })
    }

    /// Reads a blob through a verified GET URL.
    pub fn read(&self, grant: &LocalGrant) -> StoreResult<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(&grant.path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn create_upload(&self, tenant: TenantId, key: BlobKey) -> StoreResult<String> {
        let mut raw = [0u8; 16];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| StoreError::Backend("rng".into()))?;
        let id = hex::encode(raw);
        let dir = self.upload_dir(&id)?;
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::write(dir.join("target"), key.path(tenant)).map_err(io)?;
        Ok(id)
    }

    async fn presign_part(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
        number: u32,
        ttl_s: u32,
    ) -> StoreResult<String> {
        self.upload_dir(upload_id)?;
        Ok(self.url("PUT", &key.path(tenant), Some((upload_id, number)), ttl_s))
    }

    async fn list_parts(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
    ) -> StoreResult<Vec<PartInfo>> {
        let dir = self.upload_dir(upload_id)?;
        let mut parts = Vec::new();
        // Like S3 (the upload id is scoped to its key): another tenant or object sees nothing.
        if !self.upload_targets(&dir, tenant, key) {
            return Ok(parts);
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(parts),
            Err(e) => return Err(io(e)),
        };
        for e in entries {
            let e = e.map_err(io)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(n) = name
                .strip_suffix(".part")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let etag = std::fs::read_to_string(dir.join(format!("{n}.etag"))).unwrap_or_default();
            parts.push(PartInfo {
                number: n,
                etag,
                size: e.metadata().map_err(io)?.len(),
            });
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    async fn complete_upload(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
        parts: &[PartInfo],
    ) -> StoreResult<()> {
        let dir = self.upload_dir(upload_id)?;
        if !self.upload_targets(&dir, tenant, key) {
            return Err(StoreError::Conflict(
                "no such upload for this object".into(),
            ));
        }
        let final_path = self.dir.join(key.path(tenant));
        if let Some(parent) = final_path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let tmp = final_path.with_extension("tmp");
        let mut out = std::fs::File::create(&tmp).map_err(io)?;
        for (i, p) in parts.iter().enumerate() {
            if p.number as usize != i + 1 {
                return Err(StoreError::Conflict("parts must be 1..n in order".into()));
            }
            let etag = std::fs::read_to_string(dir.join(format!("{}.etag", p.number)))
                .map_err(|_| StoreError::Conflict(format!("part {} missing", p.number)))?;
            if etag != p.etag {
                return Err(StoreError::Conflict(format!("part {} changed", p.number)));
            }
            let bytes = std::fs::read(dir.join(format!("{}.part", p.number))).map_err(io)?;
            out.write_all(&bytes).map_err(io)?;
        }
        out.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &final_path).map_err(io)?;
        std::fs::remove_dir_all(&dir).map_err(io)?;
        Ok(())
    }

    async fn presign_get(&self, tenant: TenantId, key: BlobKey, ttl_s: u32) -> StoreResult<String> {
        Ok(self.url("GET", &key.path(tenant), None, ttl_s))
    }

    async fn blob_size(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<u64>> {
        match std::fs::metadata(self.dir.join(key.path(tenant))) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn get_blob(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(key.path(tenant))) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn put_blob(&self, tenant: TenantId, key: BlobKey, bytes: &[u8]) -> StoreResult<()> {
        // Like `complete_upload`: temp file, fsync, rename, so a blob is whole or absent.
        let final_path = self.dir.join(key.path(tenant));
        if let Some(parent) = final_path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let tmp = final_path.with_extension("tmp");
        let mut out = std::fs::File::create(&tmp).map_err(io)?;
        out.write_all(bytes).map_err(io)?;
        out.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &final_path).map_err(io)?;
        Ok(())
    }

    async fn erase_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<u64> {
        let mut gone = 0;
        let prefix = format!("tenants/{tenant}/objects/{object}/");
        let dir = self.dir.join(&prefix);
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries {
                    shred_file(&e.map_err(io)?.path())?;
                    gone += 1;
                }
                std::fs::remove_dir_all(&dir).map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        // Unfinished uploads of the object: their parts are ciphertext of it too.
        for e in std::fs::read_dir(self.dir.join("uploads")).map_err(io)? {
            let up = e.map_err(io)?.path();
            let target = std::fs::read_to_string(up.join("target")).unwrap_or_default();
            if target.starts_with(&prefix) {
                for part in std::fs::read_dir(&up).map_err(io)? {
                    shred_file(&part.map_err(io)?.path())?;
                }
                std::fs::remove_dir_all(&up).map_err(io)?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}

/// Overwrites a file with zeros (synced) before removing it, so its bytes do not stay in the
/// file's blocks on file systems that write in place.
fn shred_file(path: &Path) -> StoreResult<()> {
    let len = std::fs::metadata(path).map_err(io)?.len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n]).map_err(io)?;
        left -= n as u64;
    }
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::remove_file(path).map_err(io)
}
