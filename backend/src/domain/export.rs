//! **Export of one client's record** (GDPR Art. 15 access, Art. 20 portability; ADR 0017): an
//! admin, with a fresh step-up, takes every stored version of a client — notes with all their
//! versions, amendments and signatures, photos, thumbnails, consents, the identity record — and
//! the audit events naming the client (who viewed, changed, downloaded or exported it).
//!
//! The server never decrypts: it answers ciphertext and short-lived download URLs of the
//! photos, the console opens them in the browser with the client keys it was released, and
//! builds the archive there. Every page is audited (`client.export` for the first,
//! `client.export.page` after it), so no part of a record leaves unrecorded.
//!
//! A use beyond the patient's care (training, marketing) must name the active consents of its
//! scope it relies on ([`ErrorCode::ConsentRequired`] otherwise): the server cannot read
//! consents, so the check that they are active is the browser's or the phone's, and the audit
//! log keeps which consents were named so a later review can hold the export to them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ward_proto::errors::ErrorCode;
use ward_proto::export::{
    AccessEvent, ClientExport, ExportRequest, ExportedVersion, MAX_EXPORT_PAGE,
};
use ward_proto::{Kind, ObjectId};

use super::photos::DOWNLOAD_URL_TTL_S;
use super::teams::require_client;
use super::{Caller, DomainError, DomainResult, Env, audit};
use crate::model::{AuditEntry, AuditSource};
use crate::store::AuditQuery;
use crate::store::BlobKey;

/// The audit action of an export's first page (target: purpose and consents named).
pub const CLIENT_EXPORT: &str = "client.export";
/// The audit action of each later page of an export (target: the cursor).
pub const CLIENT_EXPORT_PAGE: &str = "client.export.page";
/// Most access-log entries an export carries.
pub const MAX_ACCESS_LOG: usize = 20_000;
/// Most consents one request may name.
const MAX_CONSENTS: usize = 100;

/// One page of `client`'s export (see the module docs).
pub async fn export(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &ExportRequest,
) -> DomainResult<ClientExport> {
    caller.require_admin()?;
    caller.require_step_up(env.now())?;
    let tenant = caller.tenant;
    if req.purpose.needs_consent() && req.consent_ids.is_empty() {
        return Err(DomainError::invalid(
            ErrorCode::ConsentRequired,
            format!(
                "a {} export names the client's active {} consents it relies on",
                req.purpose.as_str(),
                req.purpose.as_str()
            ),
        ));
    }
    if req.consent_ids.len() > MAX_CONSENTS {
        return Err(DomainError::invalid(
            ErrorCode::TooManyObjects,
            format!("at most {MAX_CONSENTS} consents"),
        ));
    }
    if super::erasure::erased(env, tenant).await?.contains(&client) {
        return Err(DomainError::not_found(super::erasure::ERASED));
    }
    require_client(env, tenant, client).await?;
    let limit = req
        .limit
        .unwrap_or(MAX_EXPORT_PAGE)
        .clamp(1, MAX_EXPORT_PAGE) as usize;
    let after = req.after.unwrap_or(0);
    let all = env.stores.erasures.client_versions(tenant, client).await?;
    let rest: Vec<_> = all.iter().filter(|v| v.seq > after).collect();
    let page = &rest[..rest.len().min(limit)];
    let mut versions = Vec::with_capacity(page.len());
    for v in page {
        let Some(o) = env
            .stores
            .objects
            .get_object(tenant, v.object, v.version)
            .await?
        else {
            continue; // deleted since the listing (an erasure racing this export)
        };
        let (download_url, size) = match &o.envelope {
            Some(_) => (None, None),
            None => {
                let key = BlobKey {
                    object: o.object_id,
                    version: o.version_id,
                };
                let url = env
                    .stores
                    .blobs
                    .presign_get(tenant, key, DOWNLOAD_URL_TTL_S)
                    .await?;
                (Some(url), Some(o.size))
            }
        };
        versions.push(ExportedVersion {
            seq: o.seq,
            object_id: o.object_id,
            version_id: o.version_id,
            kind: o.kind,
            parent_version: o.parent_version,
            received_at_ms: o.created_at_ms,
            device_id: Some(o.device_id),
            envelope: o.envelope.as_deref().map(|e| URL_SAFE_NO_PAD.encode(e)),
            download_url,
            size,
        });
    }
    let has_more = rest.len() > page.len();
    let next_after = page.last().map_or(after, |v| v.seq);
    let first = req.after.is_none();
    let (access_log, access_log_truncated) = if first {
        access_log(env, caller, client).await?
    } else {
        (Vec::new(), false)
    };
    let photos = versions
        .iter()
        .filter(|v| v.kind == Kind::PhotoContent as u8)
        .count();
    let target = if first {
        let consents: Vec<String> = req.consent_ids.iter().map(ToString::to_string).collect();
        format!(
            "purpose={} consents=[{}] photos={photos}",
            req.purpose.as_str(),
            consents.join(",")
        )
    } else {
        format!(
            "purpose={} after={after} photos={photos}",
            req.purpose.as_str()
        )
    };
    let action = if first {
        CLIENT_EXPORT
    } else {
        CLIENT_EXPORT_PAGE
    };
    let entry = audit::client_entry(
        env,
        caller,
        action,
        client,
        Some(target),
        versions.len() as u64,
    );
    env.stores.audit.append_entries(tenant, &[entry]).await?;
    Ok(ClientExport {
        client_id: client,
        purpose: req.purpose,
        exported_at_ms: env.now(),
        versions,
        access_log,
        access_log_truncated,
        next_after,
        has_more,
    })
}

/// Every audit event naming `client`, oldest first, up to [`MAX_ACCESS_LOG`].
async fn access_log(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
) -> DomainResult<(Vec<AccessEvent>, bool)> {
    let mut out = Vec::new();
    let mut q = AuditQuery {
        client: Some(client),
        oldest_first: true,
        limit: 1_000,
        ..AuditQuery::default()
    };
    loop {
        let page = env.stores.audit.query(caller.tenant, &q).await?;
        out.extend(page.entries.into_iter().map(|(_, e)| event(e)));
        if out.len() >= MAX_ACCESS_LOG {
            out.truncate(MAX_ACCESS_LOG);
            return Ok((out, true));
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => return Ok((out, false)),
        }
    }
}

fn event(e: AuditEntry) -> AccessEvent {
    AccessEvent {
        at_ms: e.record.at_ms,
        actor: e.record.actor,
        device_id: e.record.device_id,
        action: e.record.action,
        target: e.record.target,
        source: match e.source {
            AuditSource::Server => "server",
            AuditSource::Device => "device",
        }
        .into(),
    }
}
