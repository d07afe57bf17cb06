//! Envelope sync: batched, idempotent push and cursor-paginated pull of the tenant's change feed.
//!
//! The backend stores envelopes as opaque bytes; it only checks that each envelope's header is
//! bound to exactly the tenant, object, version and kind it is pushed as (so a ciphertext cannot
//! be replayed as another object), and who may write and read it: admins everything; clinicians
//! the clients on whose care team they are (creating a client puts its creator on the team);
//! front desk client records only. Photo content never comes through here (presigned uploads).

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use ward_proto::envelope::Header;
use ward_proto::{Kind, ObjectId, ObjectRef, TenantId, VersionId};

use super::auth::Caller;
use super::{AppState, parse_body};
use crate::error::{ApiError, ApiResult};
use crate::model::{Role, StoredObject};
use crate::store::PutOutcome;

/// Most objects in one push.
pub const MAX_PUSH_OBJECTS: usize = 500;
/// Most objects in one pull page.
pub const MAX_PULL_LIMIT: u32 = 500;

/// One pushed version.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PushItem {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Envelope kind number.
    pub kind: u8,
    /// Client (required except for client records, whose client is themselves).
    #[serde(default)]
    pub client_id: Option<ObjectId>,
    /// Parent version.
    #[serde(default)]
    pub parent_version: Option<VersionId>,
    /// The envelope, base64url.
    pub envelope: String,
}

/// A push.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PushRequest {
    /// Versions to store.
    pub objects: Vec<PushItem>,
}

/// Outcome for one pushed version.
#[derive(Debug, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PushResult {
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// created | duplicate | conflict | rejected
    pub status: &'static str,
    /// Feed position when stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn rejected(item: &PushItem, reason: impl Into<String>) -> PushResult {
    PushResult {
        object_id: item.object_id,
        version_id: item.version_id,
        status: "rejected",
        seq: None,
        reason: Some(reason.into()),
    }
}

/// Whether the caller may read or write `kind` data of `client`.
pub async fn may_access(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    client: Option<ObjectId>,
) -> ApiResult<bool> {
    Ok(match caller.role() {
        Role::Admin => true,
        Role::FrontDesk => kind == Kind::Client,
        Role::Clinician => match client {
            Some(c) => {
                state
                    .stores
                    .identity
                    .on_care_team(caller.tenant, c, caller.session.user_id)
                    .await?
            }
            None => false,
        },
    })
}

async fn authed(
    state: &AppState,
    tenant: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(TenantId, Caller, Bytes)> {
    let (tenant, caller, body) =
        super::auth::authed(state, tenant, method, uri, headers, body).await?;
    caller.require_active()?;
    Ok((tenant, caller, body))
}

/// `POST /v1/tenants/{tenant}/objects/push`
pub async fn push(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Vec<PushResult>>> {
    let (tenant, caller, body) = authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: PushRequest = parse_body(Ok(body))?;
    if req.objects.len() > MAX_PUSH_OBJECTS {
        return Err(ApiError::bad_request(
            "too_many_objects",
            format!("at most {MAX_PUSH_OBJECTS} objects per push"),
        ));
    }
    let mut results = Vec::with_capacity(req.objects.len());
    let mut new_clients: HashSet<ObjectId> = HashSet::new();
    for item in &req.objects {
        let Some(kind) = Kind::from_u8(item.kind) else {
            results.push(rejected(item, "unknown kind"));
            continue;
        };
        if kind == Kind::PhotoContent {
            results.push(rejected(
                item,
                "photo content is uploaded with a presigned URL, not pushed",
            ));
            continue;
        }
        let client = if kind == Kind::Client {
            Some(item.object_id)
        } else {
            item.client_id
        };
        if client.is_none() {
            results.push(rejected(item, "client_id is required"));
            continue;
        }
        let Ok(envelope) = URL_SAFE_NO_PAD.decode(item.envelope.trim_end_matches('=')) else {
            results.push(rejected(item, "envelope is not base64url"));
            continue;
        };
        let expected = ObjectRef {
            tenant,
            object: item.object_id,
            version: item.version_id,
            kind,
        };
        match Header::parse(&envelope) {
            Ok(h) if h.object == expected => {}
            Ok(_) => {
                results.push(rejected(
                    item,
                    "envelope header does not match tenant/object/version/kind",
                ));
                continue;
            }
            Err(e) => {
                results.push(rejected(item, format!("not an envelope: {e}")));
                continue;
            }
        }
        let creating_client = kind == Kind::Client
            && !new_clients.contains(&item.object_id)
            && !state
                .stores
                .objects
                .has_object(tenant, item.object_id)
                .await?;
        let allowed = match caller.role() {
            Role::Clinician if creating_client => true,
            _ => {
                may_access(&state, &caller, kind, client).await?
                    || client.is_some_and(|c| new_clients.contains(&c))
            }
        };
        if !allowed {
            results.push(rejected(item, "not on this client's care team"));
            continue;
        }
        let stored = StoredObject {
            object_id: item.object_id,
            version_id: item.version_id,
            kind: item.kind,
            client_id: client,
            parent_version: item.parent_version,
            seq: 0,
            sha256: hex::encode(digest(&SHA256, &envelope)),
            size: envelope.len() as u64,
            envelope: Some(envelope),
            device_id: caller.device.device_id,
            created_at_ms: state.now(),
        };
        let outcome = state.stores.objects.put_object(tenant, &stored).await?;
        if creating_client && matches!(outcome, PutOutcome::Created { .. }) {
            state
                .stores
                .identity
                .add_care_team(tenant, item.object_id, caller.session.user_id)
                .await?;
            new_clients.insert(item.object_id);
        }
        results.push(match outcome {
            PutOutcome::Created { seq } => PushResult {
                object_id: item.object_id,
                version_id: item.version_id,
                status: "created",
                seq: Some(seq),
                reason: None,
            },
            PutOutcome::Duplicate { seq } => PushResult {
                object_id: item.object_id,
                version_id: item.version_id,
                status: "duplicate",
                seq: Some(seq),
                reason: None,
            },
            PutOutcome::Conflict => PushResult {
                object_id: item.object_id,
                version_id: item.version_id,
                status: "conflict",
                seq: None,
                reason: Some("different bytes already stored for this version".into()),
            },
        });
    }
    let created = results.iter().filter(|r| r.status == "created").count();
    caller
        .audit(
            &state,
            "object.push",
            Some(format!("{created} created of {}", results.len())),
        )
        .await?;
    Ok(Json(results))
}

/// A pulled version.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PulledObject {
    /// Feed position.
    pub seq: u64,
    /// Object.
    pub object_id: ObjectId,
    /// Version.
    pub version_id: VersionId,
    /// Kind number.
    pub kind: u8,
    /// Client.
    pub client_id: Option<ObjectId>,
    /// Parent version.
    pub parent_version: Option<VersionId>,
    /// Envelope, base64url (absent for photo content: download with a presigned URL).
    pub envelope: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PullPage {
    /// Versions the caller may read, in feed order.
    pub objects: Vec<PulledObject>,
    /// Cursor for the next call.
    pub next_after: u64,
    /// Whether more may follow.
    pub has_more: bool,
}

fn query_param(q: &Option<String>, name: &str) -> ApiResult<Option<u64>> {
    let Some(q) = q else { return Ok(None) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(
                    "bad_query",
                    format!("{name} must be a non-negative integer"),
                )
            });
        }
    }
    Ok(None)
}

/// `GET /v1/tenants/{tenant}/objects/pull?after=N&limit=M`
pub async fn pull(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PullPage>> {
    let (tenant, caller, _) = authed(&state, &tenant, &method, &uri, &headers, body).await?;
    let after = query_param(&query, "after")?.unwrap_or(0);
    let limit = query_param(&query, "limit")?
        .unwrap_or(200)
        .clamp(1, u64::from(MAX_PULL_LIMIT)) as u32;
    let page = state.stores.objects.changes(tenant, after, limit).await?;
    let has_more = page.len() as u32 == limit;
    let next_after = page.last().map(|o| o.seq).unwrap_or(after);
    let mut objects = Vec::with_capacity(page.len());
    let mut delivered = 0usize;
    for o in page {
        let Some(kind) = Kind::from_u8(o.kind) else {
            continue;
        };
        if !may_access(&state, &caller, kind, o.client_id).await? {
            continue;
        }
        delivered += 1;
        objects.push(PulledObject {
            seq: o.seq,
            object_id: o.object_id,
            version_id: o.version_id,
            kind: o.kind,
            client_id: o.client_id,
            parent_version: o.parent_version,
            envelope: o.envelope.map(|e| URL_SAFE_NO_PAD.encode(e)),
        });
    }
    if delivered > 0 {
        caller
            .audit(
                &state,
                "object.pull",
                Some(format!("{delivered} versions after {after}")),
            )
            .await?;
    }
    Ok(Json(PullPage {
        objects,
        next_after,
        has_more,
    }))
}
