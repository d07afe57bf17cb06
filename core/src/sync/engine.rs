//! The sync engine: push the outbox in batches under the request limit, upload photos
//! through presigned (multipart) URLs resuming where a cut left them, pull the tenant's
//! feed from a cursor page by page, and download photos on demand.
//!
//! Every step leaves the vault consistent if the future is dropped at any await: a version is
//! marked synced only after the server acknowledged it (a repeat push is answered
//! `duplicate`), a pulled page and its cursor commit together, and an upload's finished
//! parts are remembered by the server. Transient failures are retried with exponential
//! backoff and jitter, then reported; capture never waits for any of it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde::de::DeserializeOwned;
use ward_proto::api::{
    DownloadRequest, DownloadUrl, MAX_PUSH_OBJECTS, PullPage, PushResult, PushStatus,
    UploadComplete, UploadPlan, UploadStart,
};
use ward_proto::people::MyClients;
use ward_proto::{Kind, ObjectId, ObjectRef};

use super::access;
use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::meta::{ACCESS_TAG, CURSOR};
use super::push::{PULL_PAGE, PUSH_BATCH_BYTES, push_request};
use super::report::{Progress, SyncReport};
use super::retry::retry;
use crate::error::CoreError;
use crate::vault::Vault;
use crate::vault::outbox::{Incoming, PendingPhoto, UnknownKind};

/// The sync engine of one vault.
pub struct Engine {
    vault: Arc<Vault>,
    api: ApiClient,
    session: Session,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `vault` talking to `api` with `session`.
    pub fn new(vault: Arc<Vault>, api: ApiClient, session: Session) -> Self {
        Self {
            vault,
            api,
            session,
        }
    }

    /// The API client.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn call<R: DeserializeOwned>(
        &self,
        report: &mut SyncReport,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<R, SyncError> {
        retry(|| {
            report.requests += 1;
            self.api
                .signed(&self.session, method.clone(), path, body.clone())
        })
        .await
    }

    /// One full sync: push, upload photos, pull. Records the time of contact.
    ///
    /// If the backend says this device was revoked, the signed wipe command is verified and
    /// executed ([`super::wipe`]) and the result is [`ClientError::Wiped`].
    pub async fn sync(&self, progress: &dyn Progress) -> Result<SyncReport, ClientError> {
        match self.sync_once(progress).await {
            Err(ClientError::Sync(SyncError::WipeRequired(signed))) => {
                Err(self.wipe(&signed).await)
            }
            other => other,
        }
    }

    /// Executes a wipe command the backend sent; the error to return either way.
    pub async fn wipe(&self, signed: &ward_proto::wipe::SignedWipe) -> ClientError {
        match super::wipe::execute(&self.vault, &self.api, &self.session, signed).await {
            Ok(outcome) => ClientError::Wiped(outcome),
            Err(e) => e,
        }
    }

    async fn sync_once(&self, progress: &dyn Progress) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        // First keys of clients created here go first: what the push carries is sealed under
        // them, and the rest of the care team opens it with them.
        super::keys::register(&self.vault, &self.api, &self.session, &mut report).await?;
        self.push(&mut report, progress).await?;
        self.upload_photos(&mut report, progress).await?;
        self.pull(&mut report, progress).await?;
        super::audit_upload::upload(&self.vault, &self.api, &self.session, &mut report).await?;
        super::device_state::record_contact(&self.vault, &self.api)?;
        Ok(report)
    }

    /// Pushes the outbox until it is empty.
    pub async fn push(
        &self,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        let total = {
            let u = self.vault.unsynced()?;
            u.clients + u.notes + u.other
        };
        let mut done = 0u64;
        loop {
            let batch = self
                .vault
                .with_unlocked(|ctx| ctx.outbox(MAX_PUSH_OBJECTS, PUSH_BATCH_BYTES))?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut request = push_request(&batch);
            // A new client's first version carries the clinicians front desk assigned.
            let mut assigned = Vec::new();
            for item in &mut request.objects {
                if item.kind == Kind::Client as u8 && item.parent_version.is_none() {
                    let key = crate::domain::clients::team_meta_key(item.object_id);
                    if let Some(team) = self.vault.sync_meta(&key)? {
                        item.team = Some(serde_json::from_slice(&team).map_err(CoreError::from)?);
                        assigned.push((item.object_id, key));
                    }
                }
            }
            let body = serde_json::to_vec(&request).map_err(CoreError::from)?;
            let results: Vec<PushResult> = self
                .call(
                    report,
                    Method::POST,
                    &self.api.path("/objects/push"),
                    Some(body),
                )
                .await?;
            if results.len() != batch.len() {
                return Err(SyncError::Protocol(
                    "push answered the wrong number of results".into(),
                )
                .into());
            }
            let mut acked = Vec::new();
            let mut refused = Vec::new();
            for r in &results {
                match r.status {
                    PushStatus::Created | PushStatus::Duplicate => {
                        acked.push((r.object_id, r.version_id))
                    }
                    PushStatus::Conflict | PushStatus::Rejected => {
                        tracing::warn!(object = %r.object_id, version = %r.version_id,
                            status = ?r.status, reason = ?r.reason, "server refused a version");
                        refused.push((r.object_id, r.version_id));
                    }
                }
            }
            self.vault.with_unlocked(|ctx| {
                ctx.mark_synced(&acked)?;
                ctx.mark_refused(&refused)
            })?;
            // The assignment went with the record (or was refused with it): forget it.
            for (client, key) in &assigned {
                if acked.iter().chain(&refused).any(|(o, _)| o == client) {
                    self.vault.delete_sync_meta(key)?;
                }
            }
            report.pushed += acked.len() as u64;
            report.refused += refused.len() as u64;
            done += batch.len() as u64;
            progress.on_progress("push", done, total.max(done));
        }
    }

    /// Uploads every photo not uploaded yet.
    pub async fn upload_photos(
        &self,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        let pending = self.vault.with_unlocked(|ctx| ctx.pending_photos())?;
        for photo in pending {
            match self.upload_photo(&photo, report, progress).await {
                // The user may no longer write this client (taken off its care team): the
                // photo stays here, unsynced, and is tried again next time; the sync goes on,
                // so the pull that drops the client's synced data still happens.
                Err(ClientError::Sync(SyncError::Refused { status: 403, .. })) => {
                    tracing::warn!(photo = %photo.object.object,
                        "the server refused a photo upload for its client; kept, not uploaded");
                }
                other => other?,
            }
        }
        Ok(())
    }

    async fn upload_photo(
        &self,
        photo: &PendingPhoto,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        let start = serde_json::to_vec(&UploadStart {
            object_id: photo.object.object,
            version_id: photo.object.version,
            client_id: photo.client,
            size: photo.len,
        })
        .map_err(CoreError::from)?;
        let plan: UploadPlan = self
            .call(
                report,
                Method::POST,
                &self.api.path("/uploads/start"),
                Some(start),
            )
            .await?;
        if plan.completed {
            self.vault.with_unlocked(|ctx| {
                ctx.mark_synced(&[(photo.object.object, photo.object.version)])
            })?;
            report.photos_uploaded += 1;
            return Ok(());
        }
        let mut sent: u64 = plan.done.len() as u64 * plan.part_size;
        for part in &plan.parts {
            let bytes = self.vault.with_unlocked(|ctx| {
                ctx.photo_envelope_range(&photo.object, part.offset, part.length)
            })?;
            retry(|| self.api.put_presigned(&part.url, bytes.clone())).await?;
            report.parts_sent += 1;
            sent = (sent + part.length).min(photo.len);
            progress.on_progress("upload", sent, photo.len);
        }
        let complete = serde_json::to_vec(&UploadComplete {
            object_id: photo.object.object,
            version_id: photo.object.version,
        })
        .map_err(CoreError::from)?;
        let _: serde_json::Value = self
            .call(
                report,
                Method::POST,
                &self.api.path("/uploads/complete"),
                Some(complete),
            )
            .await?;
        self.vault
            .with_unlocked(|ctx| ctx.mark_synced(&[(photo.object.object, photo.object.version)]))?;
        report.photos_uploaded += 1;
        Ok(())
    }

    /// Pulls the feed from the stored cursor until the server has no more. At the end of the
    /// feed it applies a changed access ([`access`]): drops the clients the user may no longer
    /// read and, when the access grew, pulls once more from the start.
    pub async fn pull(
        &self,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        let tenant = self.api.tenant();
        let mut repulled = false;
        loop {
            let after = self.vault.sync_meta_i64(CURSOR)?.unwrap_or(0).max(0) as u64;
            // A pull from the start after the access grew takes this device's own versions
            // too: those of a client dropped earlier and now re-added are gone from here.
            let exclude_own = u8::from(!access::full_pull_pending(&self.vault)?);
            let path = self.api.path(&format!(
                "/objects/pull?after={after}&limit={PULL_PAGE}&exclude_own={exclude_own}"
            ));
            let page: PullPage = self.call(report, Method::GET, &path, None).await?;
            let mut items = Vec::with_capacity(page.objects.len());
            let mut unknown = Vec::new();
            for o in &page.objects {
                let envelope = match &o.envelope {
                    Some(e) => Some(URL_SAFE_NO_PAD.decode(e.trim_end_matches('=')).map_err(
                        |_| SyncError::Protocol("pulled envelope is not base64url".into()),
                    )?),
                    None => None,
                };
                let Some(kind) = Kind::from_u8(o.kind) else {
                    tracing::warn!(kind = o.kind, "keeping a version of an unknown kind");
                    unknown.push(UnknownKind {
                        object: o.object_id,
                        version: o.version_id,
                        kind: o.kind,
                        client: o.client_id,
                        parent: o.parent_version,
                        envelope,
                    });
                    continue;
                };
                items.push(Incoming {
                    object: ObjectRef {
                        tenant,
                        object: o.object_id,
                        version: o.version_id,
                        kind,
                    },
                    client: o.client_id,
                    parent: o.parent_version,
                    envelope,
                });
            }
            let (added, unreadable) = self.vault.with_unlocked(|ctx| {
                let kept = ctx.keep_unknown_kind(&unknown)?;
                let (added, unreadable) = ctx.apply_pulled(&items, page.next_after)?;
                Ok((added + kept, unreadable + kept))
            })?;
            if unreadable > 0 {
                tracing::warn!(unreadable, "pulled versions this build cannot read (kept)");
            }
            report.pulled += added as u64;
            report.unreadable += unreadable as u64;
            progress.on_progress("pull", report.pulled, report.pulled);
            if !page.has_more {
                // A revocation rotated the tenant key: fetch the new epoch so what this device
                // writes next is sealed under a key the revoked phone never had. Also when a
                // record could not be sealed or opened for want of a client key.
                let held = self.vault.sync_meta_i64("current_epoch")?.unwrap_or(0);
                let mut release = page.key_epoch.is_some_and(|e| i64::from(e) > held)
                    || super::keys::keys_wanted(&self.vault)?;
                let applied = self.vault.sync_meta(super::identity::POLICY_TAG)?;
                if let Some(tag) = &page.policy_tag
                    && applied.as_deref() != Some(tag.as_bytes())
                {
                    report.requests += 1;
                    super::identity::me(&self.vault, &self.api, &self.session).await?;
                }
                // The user's access changed (care team, break-glass): drop the clients they
                // may no longer read, and pull again from the start if it grew.
                let applied = self.vault.sync_meta(ACCESS_TAG)?;
                if let Some(tag) = &page.access_tag
                    && applied.as_deref() != Some(tag.as_bytes())
                {
                    let mine: MyClients = self
                        .call(report, Method::GET, &self.api.path("/me/clients"), None)
                        .await?;
                    let grew = access::apply(&self.vault, tag, &mine, report)?;
                    // The client keys follow the access: a client new to the user, one with
                    // no key yet (the release makes it) or a newer generation after a
                    // rotation is fetched before the pull goes on, so the user can write
                    // about every client of theirs offline afterwards.
                    let newer = &mine.clients;
                    let keyless = newer.iter().any(|a| a.key.is_none());
                    if release
                        || keyless
                        || self
                            .vault
                            .with_unlocked(|ctx| Ok(ctx.lacks_newest_keys(newer)))?
                    {
                        self.release_keys(report).await?;
                        release = false;
                    }
                    if grew {
                        if !repulled {
                            repulled = true;
                            continue;
                        }
                        // Grew again during the pull from the start: the next sync does it
                        // (the cursor is reset and the pull from the start recorded).
                        return Ok(());
                    }
                }
                if release {
                    self.release_keys(report).await?;
                }
                if exclude_own == 0 {
                    access::full_pull_done(&self.vault)?;
                }
                return Ok(());
            }
        }
    }

    async fn release_keys(&self, report: &mut SyncReport) -> Result<(), ClientError> {
        report.requests += 1;
        super::keys::release(&self.vault, &self.api, &self.session).await?;
        Ok(())
    }

    /// Makes a photo's content available on this device, downloading it if needed. Returns
    /// whether it had to download.
    pub async fn ensure_photo(&self, photo_id: ObjectId) -> Result<bool, ClientError> {
        let content: ObjectRef = self.vault.photo_content_ref(photo_id)?;
        if self
            .vault
            .with_unlocked(|ctx| ctx.has_photo_content(&content))?
        {
            return Ok(false);
        }
        let mut report = SyncReport::default();
        let body = serde_json::to_vec(&DownloadRequest {
            object_id: content.object,
            version_id: content.version,
        })
        .map_err(CoreError::from)?;
        let url: DownloadUrl = self
            .call(
                &mut report,
                Method::POST,
                &self.api.path("/downloads"),
                Some(body),
            )
            .await?;
        let bytes = retry(|| self.api.get_presigned(&url.url)).await?;
        self.vault
            .with_unlocked(|ctx| ctx.store_downloaded_photo(&content, &bytes))?;
        Ok(true)
    }
}
