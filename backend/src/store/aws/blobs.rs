//! `BlobStore` on S3 ([`S3Blobs`]): photo envelopes at `tenants/<tenant>/objects/<object>/
//! <version>` ([`BlobKey::path`]), uploaded by devices straight to S3 with real multipart
//! uploads and presigned `UploadPart` URLs (no photo byte passes through the API), resumed with
//! `ListParts`, assembled by `CompleteMultipartUpload`, and fetched with presigned `GetObject`
//! URLs. Resuming and completing first check that the upload id belongs to exactly this
//! tenant's key (ListMultipartUploads by prefix). Every upload asks for SSE-KMS under the tenant's own KMS key (looked up once per tenant
//! and cached), so the bucket holds only ciphertext twice over and deleting the tenant's key
//! shreds its photos at rest as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use ward_proto::{ObjectId, TenantId};

use super::Aws;
use super::table::sdk_err;
use crate::error::StoreError;
use crate::model::PartInfo;
use crate::store::{BlobKey, BlobStore, StoreResult, TenantStore};

/// S3 errors that mean the caller's upload is wrong, not that storage failed.
const CALLER_ERRORS: [&str; 5] = [
    "InvalidPart",
    "InvalidPartOrder",
    "NoSuchUpload",
    "EntityTooSmall",
    "EntityTooLarge",
];

/// Photo blobs in S3.
pub struct S3Blobs {
    aws: Arc<Aws>,
    keys: Mutex<HashMap<TenantId, String>>,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.aws.bucket)
            .finish_non_exhaustive()
    }
}

fn presigning(ttl_s: u32) -> StoreResult<PresigningConfig> {
    PresigningConfig::expires_in(Duration::from_secs(u64::from(ttl_s)))
        .map_err(|e| StoreError::Backend(format!("presigning: {e}")))
}

impl S3Blobs {
    /// Blob storage in the adapter's bucket, with its S3 client.
    pub fn new(aws: Arc<Aws>) -> Arc<Self> {
        Arc::new(Self {
            aws,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The tenant's KMS key id (never changes for a tenant, so cached).
    async fn kms_key(&self, tenant: TenantId) -> StoreResult<String> {
        let cached = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tenant)
            .cloned();
        if let Some(k) = cached {
            return Ok(k);
        }
        let t = self
            .aws
            .get_tenant(tenant)
            .await?
            .ok_or_else(|| StoreError::Backend("no such tenant".into()))?;
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant, t.key_ref.clone());
        Ok(t.key_ref)
    }
}

impl S3Blobs {
    /// Whether `upload_id` is an in-progress upload of exactly this tenant's key. S3 scopes
    /// upload ids to their key already; checking here as well keeps a foreign or guessed id
    /// from reaching another tenant's upload even on emulators that ignore the key (moto).
    async fn upload_is_for(&self, path: &str, upload_id: &str) -> StoreResult<bool> {
        let mut key_marker = None;
        let mut id_marker = None;
        loop {
            let page = self
                .aws
                .s3
                .list_multipart_uploads()
                .bucket(&self.aws.bucket)
                .prefix(path)
                .set_key_marker(key_marker)
                .set_upload_id_marker(id_marker)
                .send()
                .await
                .map_err(|e| sdk_err("ListMultipartUploads", e))?;
            let found = page
                .uploads()
                .iter()
                .any(|u| u.key() == Some(path) && u.upload_id() == Some(upload_id));
            if found {
                return Ok(true);
            }
            if page.is_truncated != Some(true) {
                return Ok(false);
            }
            key_marker = page.next_key_marker;
            id_marker = page.next_upload_id_marker;
            if key_marker.is_none() && id_marker.is_none() {
                return Ok(false);
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn create_upload(&self, tenant: TenantId, key: BlobKey) -> StoreResult<String> {
        let kms_key = self.kms_key(tenant).await?;
        let out = self
            .aws
            .s3
            .create_multipart_upload()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .content_type("application/octet-stream")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms_key)
            .bucket_key_enabled(true)
            .send()
            .await
            .map_err(|e| sdk_err("CreateMultipartUpload", e))?;
        out.upload_id
            .ok_or_else(|| StoreError::Backend("CreateMultipartUpload returned no id".into()))
    }

    async fn presign_part(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
        number: u32,
        ttl_s: u32,
    ) -> StoreResult<String> {
        let number = i32::try_from(number)
            .map_err(|_| StoreError::Conflict("part number out of range".into()))?;
        let req = self
            .aws
            .s3
            .upload_part()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .upload_id(upload_id)
            .part_number(number)
            .presigned(presigning(ttl_s)?)
            .await
            .map_err(|e| sdk_err("presign UploadPart", e))?;
        Ok(req.uri().to_string())
    }

    async fn list_parts(
        &self,
        tenant: TenantId,
        key: BlobKey,
        upload_id: &str,
    ) -> StoreResult<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let path = key.path(tenant);
        if !self.upload_is_for(&path, upload_id).await? {
            // Completed, aborted, or not this key's upload: nothing to resume.
            return Ok(parts);
        }
        let mut marker = None;
        loop {
            let r = self
                .aws
                .s3
                .list_parts()
                .bucket(&self.aws.bucket)
                .key(&path)
                .upload_id(upload_id)
                .set_part_number_marker(marker)
                .send()
                .await;
            let page = match r {
                Ok(p) => p,
                // Completed or aborted: nothing left to resume.
                Err(e) if e.code() == Some("NoSuchUpload") => return Ok(Vec::new()),
                Err(e) => return Err(sdk_err("ListParts", e)),
            };
            for p in page.parts() {
                let (Some(number), Some(etag)) = (p.part_number, p.e_tag.clone()) else {
                    continue;
                };
                parts.push(PartInfo {
                    number: u32::try_from(number).unwrap_or(0),
                    etag,
                    size: p.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                });
            }
            if page.is_truncated != Some(true) || page.next_part_number_marker.is_none() {
                break;
            }
            marker = page.next_part_number_marker;
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
        let mut completed = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            if p.number as usize != i + 1 {
                return Err(StoreError::Conflict("parts must be 1..n in order".into()));
            }
            let number = i32::try_from(p.number)
                .map_err(|_| StoreError::Conflict("part number out of range".into()))?;
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(&p.etag)
                    .build(),
            );
        }
        let path = key.path(tenant);
        if !self.upload_is_for(&path, upload_id).await? {
            return Err(StoreError::Conflict(
                "no such upload for this object".into(),
            ));
        }
        let r = self
            .aws
            .s3
            .complete_multipart_upload()
            .bucket(&self.aws.bucket)
            .key(&path)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.code().is_some_and(|c| CALLER_ERRORS.contains(&c)) => {
                Err(StoreError::Conflict(format!(
                    "upload cannot complete: {}",
                    e.code().unwrap_or("")
                )))
            }
            Err(e) => Err(sdk_err("CompleteMultipartUpload", e)),
        }
    }

    async fn presign_get(&self, tenant: TenantId, key: BlobKey, ttl_s: u32) -> StoreResult<String> {
        let req = self
            .aws
            .s3
            .get_object()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .presigned(presigning(ttl_s)?)
            .await
            .map_err(|e| sdk_err("presign GetObject", e))?;
        Ok(req.uri().to_string())
    }

    async fn blob_size(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<u64>> {
        let r = self
            .aws
            .s3
            .head_object()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .send()
            .await;
        match r {
            Ok(h) => Ok(Some(
                h.content_length
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
            )),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_err("HeadObject", e)),
        }
    }

    async fn get_blob(&self, tenant: TenantId, key: BlobKey) -> StoreResult<Option<Vec<u8>>> {
        let r = self
            .aws
            .s3
            .get_object()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .send()
            .await;
        let out = match r {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk_err("GetObject", e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Backend(format!("GetObject body: {e}")))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn put_blob(&self, tenant: TenantId, key: BlobKey, bytes: &[u8]) -> StoreResult<()> {
        let kms_key = self.kms_key(tenant).await?;
        self.aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(key.path(tenant))
            .content_type("application/octet-stream")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms_key)
            .bucket_key_enabled(true)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_err("PutObject", e))?;
        Ok(())
    }

    async fn erase_object(&self, tenant: TenantId, object: ObjectId) -> StoreResult<u64> {
        self.aws.erase_blobs(tenant, object).await
    }
}
