//! Erasing a photo's blobs from S3: every object version and delete marker under the object's
//! prefix (the bucket is versioned, so a plain delete would only hide the bytes) and every
//! unfinished multipart upload, in the bucket and in the replica bucket when one is configured
//! (replication copies versions but never their deletion).

use ward_proto::{ObjectId, TenantId};

use super::Aws;
use super::table::sdk_err;
use crate::store::StoreResult;

impl Aws {
    /// Deletes every stored copy of `object`'s blobs; returns how many versions, markers and
    /// uploads went.
    pub(super) async fn erase_blobs(&self, tenant: TenantId, object: ObjectId) -> StoreResult<u64> {
        let prefix = format!("tenants/{tenant}/objects/{object}/");
        let mut gone = self.erase_prefix(&self.bucket, &prefix).await?;
        if let Some(replica) = &self.replica_bucket {
            gone += self.erase_prefix(replica, &prefix).await?;
        }
        Ok(gone)
    }

    async fn erase_prefix(&self, bucket: &str, prefix: &str) -> StoreResult<u64> {
        let mut gone = 0;
        // Listing again after each page of deletions: a deleted version leaves the listing, so
        // no marker is needed and a retry after a failure starts where it stopped.
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(|e| sdk_err("ListObjectVersions", e))?;
            let mut doomed: Vec<(String, Option<String>)> = Vec::new();
            for v in page.versions() {
                if let Some(k) = v.key() {
                    doomed.push((k.to_string(), v.version_id().map(String::from)));
                }
            }
            for m in page.delete_markers() {
                if let Some(k) = m.key() {
                    doomed.push((k.to_string(), m.version_id().map(String::from)));
                }
            }
            if doomed.is_empty() {
                break;
            }
            for (key, version) in doomed {
                self.s3
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .set_version_id(version)
                    .send()
                    .await
                    .map_err(|e| sdk_err("DeleteObject (version)", e))?;
                gone += 1;
            }
        }
        loop {
            let page = self
                .s3
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(|e| sdk_err("ListMultipartUploads", e))?;
            let uploads: Vec<(String, String)> = page
                .uploads()
                .iter()
                .filter_map(|u| Some((u.key()?.to_string(), u.upload_id()?.to_string())))
                .collect();
            if uploads.is_empty() {
                break;
            }
            for (key, id) in uploads {
                self.s3
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await
                    .map_err(|e| sdk_err("AbortMultipartUpload", e))?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}
