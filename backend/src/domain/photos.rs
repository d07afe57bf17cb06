//! Photo upload and download through presigned URLs: only short-lived URLs go to approved
//! devices, and a finished upload is recorded in the change feed; photo bytes go from the phone
//! straight to S3 (or, embedded, to the server's `/blobs` endpoint). Uploads are multipart with
//! server-side state, so a cut upload resumes by asking which parts arrived and sending only the
//! others.

use serde::Serialize;
use ward_proto::errors::ErrorCode;
use ward_proto::{Kind, ObjectId, TenantId, VersionId};

use super::audit;
use super::sync::may_access;
use super::{Caller, DomainError, DomainResult, Env};
use crate::model::{PartInfo, StoredObject, UploadState};
use crate::store::{BlobKey, PutOutcome};
pub use ward_proto::api::{
    DownloadRequest, DownloadUrl, PartUrl, UploadComplete, UploadPlan, UploadStart,
};

/// Bytes per part (S3's minimum for all but the last part is 5 MiB).
pub use ward_proto::api::PART_SIZE;
/// Largest photo envelope accepted.
pub const MAX_PHOTO_BYTES: u64 = 512 * 1024 * 1024;
/// Lifetime of an upload URL.
pub const UPLOAD_URL_TTL_S: u32 = 10 * 60;
/// Lifetime of a download URL.
pub const DOWNLOAD_URL_TTL_S: u32 = 5 * 60;

fn part_count(size: u64) -> u32 {
    size.div_ceil(PART_SIZE).max(1) as u32
}

/// Starts or resumes a photo upload: which parts arrived, presigned URLs for the others.
pub async fn start(env: Env<'_>, caller: &Caller, req: &UploadStart) -> DomainResult<UploadPlan> {
    let tenant = caller.tenant;
    if req.size == 0 || req.size > MAX_PHOTO_BYTES {
        return Err(DomainError::invalid(
            ErrorCode::BadSize,
            format!("size must be 1..={MAX_PHOTO_BYTES} bytes"),
        ));
    }
    if !may_access(env, caller, Kind::PhotoContent, Some(req.client_id)).await? {
        return Err(DomainError::forbidden("not on this client's care team"));
    }
    let key = BlobKey {
        object: req.object_id,
        version: req.version_id,
    };
    let upload = match env
        .stores
        .objects
        .get_upload(tenant, req.object_id, req.version_id)
        .await?
    {
        Some(u) if u.size != req.size || u.client_id != req.client_id => {
            return Err(DomainError::conflict(
                ErrorCode::UploadMismatch,
                "an upload of this version with other parameters exists",
            ));
        }
        Some(u) if u.completed => {
            // A retry of a finished upload (its answer was lost, or the app was killed before
            // it recorded it): idempotent, nothing left to send.
            return Ok(UploadPlan {
                part_size: PART_SIZE,
                done: (1..=part_count(u.size)).collect(),
                parts: Vec::new(),
                completed: true,
            });
        }
        Some(u) => u,
        None => {
            let upload_id = env.stores.blobs.create_upload(tenant, key).await?;
            let u = UploadState {
                object_id: req.object_id,
                version_id: req.version_id,
                client_id: req.client_id,
                upload_id,
                size: req.size,
                part_size: PART_SIZE,
                device_id: caller.device.device_id,
                created_at_ms: env.now(),
                completed: false,
            };
            env.stores.objects.put_upload(tenant, &u).await?;
            u
        }
    };
    if env.stores.blobs.blob_size(tenant, key).await? == Some(upload.size) {
        // Assembled but not yet recorded (the completing request was cut short): nothing to
        // send; the device's `complete` call finishes it.
        return Ok(UploadPlan {
            part_size: upload.part_size,
            done: (1..=part_count(upload.size)).collect(),
            parts: Vec::new(),
            completed: false,
        });
    }
    let have = env
        .stores
        .blobs
        .list_parts(tenant, key, &upload.upload_id)
        .await?;
    let mut done = Vec::new();
    let mut parts = Vec::new();
    for n in 1..=part_count(upload.size) {
        let offset = u64::from(n - 1) * upload.part_size;
        let length = upload.part_size.min(upload.size - offset);
        if have.iter().any(|p| p.number == n && p.size == length) {
            done.push(n);
            continue;
        }
        let url = env
            .stores
            .blobs
            .presign_part(tenant, key, &upload.upload_id, n, UPLOAD_URL_TTL_S)
            .await?;
        parts.push(PartUrl {
            number: n,
            offset,
            length,
            url,
        });
    }
    Ok(UploadPlan {
        part_size: upload.part_size,
        done,
        parts,
        completed: false,
    })
}

/// A finished upload.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Completed {
    /// The photo object.
    pub object_id: ObjectId,
    /// Its content version.
    pub version_id: VersionId,
    /// Envelope size in bytes.
    pub size: u64,
}

/// Completes a photo upload (idempotent; finishes an upload whose completion was cut short)
/// and enters it in the change feed.
pub async fn complete(
    env: Env<'_>,
    caller: &Caller,
    req: &UploadComplete,
) -> DomainResult<Completed> {
    let tenant = caller.tenant;
    let mut upload = env
        .stores
        .objects
        .get_upload(tenant, req.object_id, req.version_id)
        .await?
        .ok_or_else(|| DomainError::not_found("no such upload"))?;
    if !may_access(env, caller, Kind::PhotoContent, Some(upload.client_id)).await? {
        return Err(DomainError::forbidden("not on this client's care team"));
    }
    let key = BlobKey {
        object: req.object_id,
        version: req.version_id,
    };
    // A crash (or a cut) after the blob was assembled leaves its parts gone: finish from the
    // assembled blob instead of asking for parts again.
    let assembled =
        !upload.completed && env.stores.blobs.blob_size(tenant, key).await? == Some(upload.size);
    if !upload.completed && !assembled {
        let have = env
            .stores
            .blobs
            .list_parts(tenant, key, &upload.upload_id)
            .await?;
        let expected = part_count(upload.size);
        let parts: Vec<PartInfo> = (1..=expected)
            .filter_map(|n| have.iter().find(|p| p.number == n).cloned())
            .collect();
        let total: u64 = parts.iter().map(|p| p.size).sum();
        if parts.len() as u32 != expected || total != upload.size {
            let missing: Vec<u32> = (1..=expected)
                .filter(|n| !have.iter().any(|p| p.number == *n))
                .collect();
            return Err(DomainError::conflict(
                ErrorCode::PartsMissing,
                format!("parts not yet received: {missing:?}"),
            ));
        }
        env.stores
            .blobs
            .complete_upload(tenant, key, &upload.upload_id, &parts)
            .await?;
        let etags: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
        record_photo(
            env,
            caller,
            tenant,
            req,
            &upload,
            format!("parts:{}", etags.join(",")),
        )
        .await?;
    }
    if !upload.completed {
        if assembled
            && env
                .stores
                .objects
                .get_object(tenant, req.object_id, req.version_id)
                .await?
                .is_none()
        {
            record_photo(
                env,
                caller,
                tenant,
                req,
                &upload,
                format!("assembled:{}", upload.size),
            )
            .await?;
        }
        upload.completed = true;
        env.stores.objects.put_upload(tenant, &upload).await?;
        let e = audit::client_entry(
            env,
            caller,
            audit::PHOTO_UPLOAD,
            upload.client_id,
            Some(req.object_id.to_string()),
            1,
        );
        env.stores.audit.append_entries(tenant, &[e]).await?;
    }
    Ok(Completed {
        object_id: req.object_id,
        version_id: req.version_id,
        size: upload.size,
    })
}

/// Enters an uploaded photo content version into the change feed.
async fn record_photo(
    env: Env<'_>,
    caller: &Caller,
    tenant: TenantId,
    req: &UploadComplete,
    upload: &UploadState,
    sha256: String,
) -> DomainResult<()> {
    {
        let stored = StoredObject {
            object_id: req.object_id,
            version_id: req.version_id,
            kind: Kind::PhotoContent as u8,
            client_id: Some(upload.client_id),
            parent_version: None,
            seq: 0,
            sha256,
            size: upload.size,
            envelope: None,
            device_id: caller.device.device_id,
            created_at_ms: env.now(),
            note_state: None,
        };
        match env.stores.objects.put_object(tenant, &stored).await? {
            PutOutcome::Created { .. } | PutOutcome::Duplicate { .. } => Ok(()),
            PutOutcome::Conflict => Err(DomainError::conflict(
                ErrorCode::Conflict,
                "different content already stored for this version",
            )),
        }
    }
}

/// A presigned download URL of a photo the caller may see (404 otherwise), audited.
pub async fn download(
    env: Env<'_>,
    caller: &Caller,
    req: &DownloadRequest,
) -> DomainResult<DownloadUrl> {
    let tenant = caller.tenant;
    let obj = env
        .stores
        .objects
        .get_object(tenant, req.object_id, req.version_id)
        .await?
        .filter(|o| o.kind == Kind::PhotoContent as u8)
        .ok_or_else(|| DomainError::not_found("no such photo"))?;
    if !may_access(env, caller, Kind::PhotoContent, obj.client_id).await? {
        return Err(DomainError::not_found("no such photo"));
    }
    let url = env
        .stores
        .blobs
        .presign_get(
            tenant,
            BlobKey {
                object: req.object_id,
                version: req.version_id,
            },
            DOWNLOAD_URL_TTL_S,
        )
        .await?;
    let mut e = audit::entry(
        env,
        caller,
        audit::PHOTO_DOWNLOAD,
        Some(req.object_id.to_string()),
    );
    if let Some(client) = obj.client_id {
        e.client = Some(client);
        e.count = Some(1);
    }
    env.stores.audit.append_entries(tenant, &[e]).await?;
    Ok(DownloadUrl {
        url,
        size: obj.size,
        expires_in_s: DOWNLOAD_URL_TTL_S,
    })
}
