//! Envelope sync: batched, idempotent push and cursor-paginated pull of the tenant's change feed.
//!
//! The backend stores envelopes as opaque bytes; it only checks that each envelope's header is
//! bound to exactly the tenant, object, version and kind it is pushed as (so a ciphertext cannot
//! be replayed as another object), and who may write and read it: admins everything; clinicians
//! the clients on whose care team they are (creating a client puts its creator on the team);
//! front desk client records only. Photo content never comes through here (presigned uploads).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ward_proto::envelope::Header;
use ward_proto::{Kind, ObjectId, ObjectRef, TenantId};

use super::auth::Caller;
use super::{AppState, parse_body, reports};
use crate::error::{ApiError, ApiResult, StoreError};
use crate::model::{Role, StoredObject};
use crate::store::PutOutcome;
pub use ward_proto::api::{
    MAX_PULL_BYTES, MAX_PULL_LIMIT, MAX_PULL_SCAN, MAX_PUSH_OBJECTS, PullPage, PulledObject,
    PushItem, PushRequest, PushResult, PushStatus,
};

pub(super) fn rejected(item: &PushItem, reason: impl Into<String>) -> PushResult {
    PushResult {
        object_id: item.object_id,
        version_id: item.version_id,
        status: PushStatus::Rejected,
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

/// [`may_access`] with the care-team answer remembered per client for one request, so a push
/// or a pull page of many versions of one client asks the store once.
struct AccessCache<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    teams: HashMap<ObjectId, bool>,
}

impl<'a> AccessCache<'a> {
    fn new(state: &'a AppState, caller: &'a Caller) -> Self {
        Self {
            state,
            caller,
            teams: HashMap::new(),
        }
    }

    async fn may(&mut self, kind: Kind, client: Option<ObjectId>) -> ApiResult<bool> {
        match (self.caller.role(), client) {
            (Role::Clinician, Some(c)) => {
                if let Some(&known) = self.teams.get(&c) {
                    return Ok(known);
                }
                let allowed = may_access(self.state, self.caller, kind, client).await?;
                self.teams.insert(c, allowed);
                Ok(allowed)
            }
            _ => may_access(self.state, self.caller, kind, client).await,
        }
    }
}

use super::auth::authed_active as authed;

/// A pushed item that passed the checks that need no storage.
pub(super) struct Candidate {
    index: usize,
    kind: Kind,
    client: ObjectId,
    /// The version as it would be stored.
    pub(super) stored: StoredObject,
}

/// Checks what can be checked without storage: kind, client, base64, and that the envelope's
/// header is bound to exactly this tenant/object/version/kind.
pub(super) fn validate(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    index: usize,
    item: &PushItem,
) -> Result<Candidate, PushResult> {
    let kind = Kind::from_u8(item.kind).ok_or_else(|| rejected(item, "unknown kind"))?;
    if kind == Kind::PhotoContent {
        return Err(rejected(
            item,
            "photo content is uploaded with a presigned URL, not pushed",
        ));
    }
    let client = if kind == Kind::Client {
        item.object_id
    } else {
        item.client_id
            .ok_or_else(|| rejected(item, "client_id is required"))?
    };
    let envelope = URL_SAFE_NO_PAD
        .decode(item.envelope.trim_end_matches('='))
        .map_err(|_| rejected(item, "envelope is not base64url"))?;
    let expected = ObjectRef {
        tenant,
        object: item.object_id,
        version: item.version_id,
        kind,
    };
    match Header::parse(&envelope) {
        Ok(h) if h.object == expected => {}
        Ok(_) => {
            return Err(rejected(
                item,
                "envelope header does not match tenant/object/version/kind",
            ));
        }
        Err(e) => return Err(rejected(item, format!("not an envelope: {e}"))),
    }
    Ok(Candidate {
        index,
        kind,
        client,
        stored: StoredObject {
            object_id: item.object_id,
            version_id: item.version_id,
            kind: item.kind,
            client_id: Some(client),
            parent_version: item.parent_version,
            seq: 0,
            sha256: hex::encode(digest(&SHA256, &envelope)),
            size: envelope.len() as u64,
            envelope: Some(envelope),
            device_id: caller.device.device_id,
            created_at_ms: state.now(),
        },
    })
}

fn outcome_result(stored: &StoredObject, outcome: PutOutcome) -> PushResult {
    let (status, seq, reason) = match outcome {
        PutOutcome::Created { seq } => (PushStatus::Created, Some(seq), None),
        PutOutcome::Duplicate { seq } => (PushStatus::Duplicate, Some(seq), None),
        PutOutcome::Conflict => (
            PushStatus::Conflict,
            None,
            Some("different bytes already stored for this version".into()),
        ),
    };
    PushResult {
        object_id: stored.object_id,
        version_id: stored.version_id,
        status,
        seq,
        reason,
    }
}

/// `POST /v1/tenants/{tenant}/objects/push`
///
/// Client records are stored first (one transaction), so that a clinician who creates a client
/// joins its care team before the same push's notes and photos of that client are checked;
/// then everything else (a second transaction). Results come back in request order.
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
    let mut results: Vec<Option<PushResult>> = Vec::with_capacity(req.objects.len());
    let (mut clients, mut others) = (Vec::new(), Vec::new());
    for (index, item) in req.objects.iter().enumerate() {
        match validate(&state, &caller, tenant, index, item) {
            Ok(c) if c.kind == Kind::Client => clients.push(c),
            Ok(c) => others.push(c),
            Err(r) => {
                results.push(Some(r));
                continue;
            }
        }
        results.push(None);
    }
    let mut access = AccessCache::new(&state, &caller);

    // Client records; a client that does not exist yet may be created by anyone who may write
    // client records at all, and its creator joins its care team.
    let mut creating: HashSet<ObjectId> = HashSet::new();
    let mut allowed = Vec::with_capacity(clients.len());
    for c in clients {
        let new = creating.contains(&c.client)
            || !state.stores.objects.has_object(tenant, c.client).await?;
        if new {
            creating.insert(c.client);
        }
        if (new && caller.role() == Role::Clinician) || access.may(c.kind, Some(c.client)).await? {
            allowed.push(c);
        } else {
            results[c.index] = Some(rejected(
                &req.objects[c.index],
                "not on this client's care team",
            ));
        }
    }
    let mut new_clients: HashSet<ObjectId> = HashSet::new();
    store_batch(&state, tenant, allowed, &mut results, |client, outcome| {
        if creating.contains(&client) && matches!(outcome, PutOutcome::Created { .. }) {
            new_clients.insert(client);
        }
    })
    .await?;
    for client in &new_clients {
        state
            .stores
            .identity
            .add_care_team(tenant, *client, caller.session.user_id)
            .await?;
    }

    // Everything else.
    let mut allowed = Vec::with_capacity(others.len());
    for c in others {
        if new_clients.contains(&c.client) || access.may(c.kind, Some(c.client)).await? {
            allowed.push(c);
        } else {
            results[c.index] = Some(rejected(
                &req.objects[c.index],
                "not on this client's care team",
            ));
        }
    }
    store_batch(&state, tenant, allowed, &mut results, |_, _| {}).await?;

    let results: Vec<PushResult> = results.into_iter().flatten().collect();
    let created = results
        .iter()
        .filter(|r| r.status == PushStatus::Created)
        .count();
    // Per client, the versions this device created (the breach-scope report's "created").
    let mut per_client: BTreeMap<ObjectId, u64> = BTreeMap::new();
    for (item, r) in req.objects.iter().zip(&results) {
        if r.status == PushStatus::Created {
            let client = if item.kind == Kind::Client as u8 {
                Some(item.object_id)
            } else {
                item.client_id
            };
            if let Some(c) = client {
                *per_client.entry(c).or_default() += 1;
            }
        }
    }
    let summary = reports::entry(
        &state,
        &caller,
        "object.push",
        Some(format!("{created} created of {}", results.len())),
    );
    reports::audit_clients(
        &state,
        &caller,
        reports::CLIENT_CREATE,
        &per_client,
        vec![summary],
    )
    .await?;
    Ok(Json(results))
}

/// Stores `batch` in one storage call and fills in its results.
async fn store_batch(
    state: &AppState,
    tenant: TenantId,
    batch: Vec<Candidate>,
    results: &mut [Option<PushResult>],
    mut on_outcome: impl FnMut(ObjectId, PutOutcome),
) -> ApiResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (slots, objects): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|c| ((c.index, c.client), c.stored))
        .unzip();
    let outcomes = state.stores.objects.put_objects(tenant, &objects).await?;
    if outcomes.len() != objects.len() {
        return Err(
            StoreError::Backend("storage returned the wrong number of outcomes".into()).into(),
        );
    }
    for (((index, client), stored), outcome) in slots.into_iter().zip(&objects).zip(outcomes) {
        on_outcome(client, outcome);
        results[index] = Some(outcome_result(stored, outcome));
    }
    Ok(())
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
    // `exclude_own=1`: leave out versions this device pushed itself (it holds them), so a
    // device's first pull after a big push is not its own data coming back.
    let exclude_own = query_param(&query, "exclude_own")?.unwrap_or(0) == 1;
    let own = caller.device.device_id;
    let mut objects = Vec::new();
    let mut delivered = 0usize;
    let mut bytes = 0usize;
    let mut access = AccessCache::new(&state, &caller);
    let mut scan_after = after;
    let mut scanned = 0usize;
    let mut has_more = true;
    let mut next_after = after;
    // Scan store pages until the page is full, the byte cap is reached, the feed ends, or
    // enough rows were looked at for one request.
    'scan: while delivered < limit as usize && scanned < MAX_PULL_SCAN {
        let page = state
            .stores
            .objects
            .changes(tenant, scan_after, limit)
            .await?;
        let exhausted = (page.len() as u32) < limit;
        for o in page {
            scanned += 1;
            scan_after = o.seq;
            let Some(kind) = Kind::from_u8(o.kind) else {
                next_after = o.seq;
                continue;
            };
            if (exclude_own && o.device_id == own) || !access.may(kind, o.client_id).await? {
                next_after = o.seq;
                continue;
            }
            let size = o.envelope.as_ref().map_or(0, |e| e.len().div_ceil(3) * 4);
            if bytes > 0 && bytes + size > MAX_PULL_BYTES {
                // The rest comes with the next page, after the last version looked at.
                break 'scan;
            }
            bytes += size;
            next_after = o.seq;
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
            if delivered == limit as usize {
                break 'scan;
            }
        }
        if exhausted {
            has_more = false;
            break;
        }
    }
    if delivered > 0 {
        // One entry per client whose versions this page hands to the device (the
        // breach-scope report's "delivered"), all in one batched write.
        let mut per_client: BTreeMap<ObjectId, u64> = BTreeMap::new();
        for o in &objects {
            if let Some(c) = o.client_id {
                *per_client.entry(c).or_default() += 1;
            }
        }
        let summary = reports::entry(
            &state,
            &caller,
            "object.pull",
            Some(format!("{delivered} versions after {after}")),
        );
        reports::audit_clients(
            &state,
            &caller,
            reports::CLIENT_DELIVER,
            &per_client,
            vec![summary],
        )
        .await?;
    }
    // The tenant's key epoch and policy fingerprint ride on every page: a device still sealing
    // under an older epoch (a revocation rotated it) fetches the keys again before it writes
    // new data, and one with another policy fetches and applies the new one.
    let t = state.stores.tenants.get_tenant(tenant).await?;
    Ok(Json(PullPage {
        objects,
        next_after,
        has_more,
        key_epoch: t.as_ref().map(|t| t.current_epoch),
        policy_tag: t.map(|t| t.policy.tag()),
    }))
}
