//! Envelope sync: batched, idempotent push and cursor-paginated pull of the tenant's change feed.
//!
//! The backend stores envelopes as opaque bytes; it only checks that each envelope's header is
//! bound to exactly the tenant, object, version and kind it is pushed as ([`validate`]: a
//! ciphertext cannot be replayed as another object), and who may write and read it
//! ([`may_access`]): admins everything; clinicians the clients on whose care team they are
//! (creating a client puts its creator on the team); front desk client records only. Photo
//! content never comes through here (presigned uploads, [`super::photos`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ward_proto::envelope::Header;
use ward_proto::errors::ErrorCode;
use ward_proto::{Kind, NoteState, ObjectId, ObjectRef, TenantId};

use super::audit::{self, CLIENT_CREATE, CLIENT_DELIVER};
use super::{Caller, DomainError, DomainResult, Env};
use crate::error::StoreError;
use crate::model::{Role, StoredObject};
use crate::store::PutOutcome;
pub use ward_proto::api::{
    MAX_INLINE_ENVELOPE_BYTES, MAX_PULL_BYTES, MAX_PULL_LIMIT, MAX_PULL_SCAN, MAX_PUSH_OBJECTS,
    PullPage, PulledObject, PushItem, PushRequest, PushResult, PushStatus,
};

mod owners;

pub(super) use owners::Owners;

/// Default page size of a pull without `limit`.
pub const DEFAULT_PULL_LIMIT: u64 = 200;

/// Why a version is refused over a signed note or an addendum.
pub(super) const NOTE_LOCKED: &str =
    "the note is signed and locked: nothing may follow it (write an addendum, a note of its own)";
/// Why an addendum is refused as a version of an existing note.
pub(super) const ADDENDUM_IS_NEW: &str =
    "an addendum is a new note of its own, not a version of another";

pub(super) fn rejected(item: &PushItem, reason: impl Into<String>) -> PushResult {
    PushResult {
        object_id: item.object_id,
        version_id: item.version_id,
        status: PushStatus::Rejected,
        seq: None,
        reason: Some(reason.into()),
    }
}

/// **Who may read what**: whether the caller may read or write `kind` data of `client`.
pub async fn may_access(
    env: Env<'_>,
    caller: &Caller,
    kind: Kind,
    client: Option<ObjectId>,
) -> DomainResult<bool> {
    Ok(match caller.role() {
        Role::Admin => true,
        Role::FrontDesk => kind == Kind::Client,
        Role::Clinician => match client {
            Some(c) => {
                env.stores
                    .identity
                    .on_care_team(caller.tenant, c, caller.session.user_id)
                    .await?
                    || super::teams::active_grants(env, caller.tenant, caller.session.user_id)
                        .await?
                        .iter()
                        .any(|g| g.client_id == c)
            }
            None => false,
        },
    })
}

/// [`may_access`] with the care-team answer remembered per client for one request, so a push
/// or a pull page of many versions of one client asks the store once.
#[derive(Debug)]
pub struct AccessCache<'a> {
    env: Env<'a>,
    caller: &'a Caller,
    teams: HashMap<ObjectId, bool>,
    /// The caller's unexpired break-glass clients, read once per request when first needed.
    grants: Option<HashSet<ObjectId>>,
}

impl<'a> AccessCache<'a> {
    /// An empty cache for one request of `caller`.
    pub fn new(env: Env<'a>, caller: &'a Caller) -> Self {
        Self {
            env,
            caller,
            teams: HashMap::new(),
            grants: None,
        }
    }

    /// [`may_access`], remembered per client.
    pub async fn may(&mut self, kind: Kind, client: Option<ObjectId>) -> DomainResult<bool> {
        match (self.caller.role(), client) {
            (Role::Clinician, Some(c)) => {
                if let Some(&known) = self.teams.get(&c) {
                    return Ok(known);
                }
                let on_team = self
                    .env
                    .stores
                    .identity
                    .on_care_team(self.caller.tenant, c, self.caller.session.user_id)
                    .await?;
                let allowed = on_team || self.grants().await?.contains(&c);
                self.teams.insert(c, allowed);
                Ok(allowed)
            }
            _ => may_access(self.env, self.caller, kind, client).await,
        }
    }
}

impl AccessCache<'_> {
    async fn grants(&mut self) -> DomainResult<&HashSet<ObjectId>> {
        if self.grants.is_none() {
            let user = self.caller.session.user_id;
            let grants = super::teams::active_grants(self.env, self.caller.tenant, user).await?;
            self.grants = Some(grants.into_iter().map(|g| g.client_id).collect());
        }
        Ok(self.grants.get_or_insert_with(HashSet::new))
    }
}

/// A pushed item that passed the checks that need no storage.
pub(super) struct Candidate {
    pub(super) index: usize,
    pub(super) kind: Kind,
    pub(super) client: ObjectId,
    /// The version as it would be stored.
    pub(super) stored: StoredObject,
}

/// Checks what can be checked without storage: kind, client, base64, and that the envelope's
/// header is bound to exactly this tenant/object/version/kind.
pub(super) fn validate(
    env: Env<'_>,
    caller: &Caller,
    index: usize,
    item: &PushItem,
) -> Result<Candidate, PushResult> {
    let tenant = caller.tenant;
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
    // One limit for every adapter (DynamoDB's item cap sets it), checked above the ports.
    if envelope.len() > MAX_INLINE_ENVELOPE_BYTES {
        return Err(rejected(
            item,
            format!(
                "envelope over {MAX_INLINE_ENVELOPE_BYTES} bytes (larger content is uploaded as a photo blob)"
            ),
        ));
    }
    let expected = ObjectRef {
        tenant,
        object: item.object_id,
        version: item.version_id,
        kind,
    };
    let note_state = match Header::parse(&envelope) {
        Ok(h) if h.object == expected => h.note,
        Ok(_) => {
            return Err(rejected(
                item,
                "envelope header does not match tenant/object/version/kind",
            ));
        }
        Err(e) => return Err(rejected(item, format!("not an envelope: {e}"))),
    };
    if note_state == Some(NoteState::Addendum) && item.parent_version.is_some() {
        return Err(rejected(item, ADDENDUM_IS_NEW));
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
            created_at_ms: env.now(),
            note_state,
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

/// Pushes envelopes (idempotent per version).
///
/// Client records are stored first (one transaction), so that a clinician who creates a client
/// joins its care team before the same push's notes and photos of that client are checked;
/// then everything else (a second transaction). Results come back in request order.
pub async fn push(
    env: Env<'_>,
    caller: &Caller,
    req: &PushRequest,
) -> DomainResult<Vec<PushResult>> {
    let tenant = caller.tenant;
    if req.objects.len() > MAX_PUSH_OBJECTS {
        return Err(DomainError::invalid(
            ErrorCode::TooManyObjects,
            format!("at most {MAX_PUSH_OBJECTS} objects per push"),
        ));
    }
    let mut results: Vec<Option<PushResult>> = Vec::with_capacity(req.objects.len());
    let (mut clients, mut others) = (Vec::new(), Vec::new());
    // An erased client takes nothing more (an offline phone may still hold it).
    let erased = super::erasure::erased(env, tenant).await?;
    for (index, item) in req.objects.iter().enumerate() {
        match validate(env, caller, index, item) {
            Ok(c) if erased.contains(&c.client) => {
                results.push(Some(rejected(item, super::erasure::ERASED)));
                continue;
            }
            Ok(c) if c.kind == Kind::Client => clients.push(c),
            Ok(c) => others.push(c),
            Err(r) => {
                results.push(Some(r));
                continue;
            }
        }
        results.push(None);
    }
    let mut access = AccessCache::new(env, caller);
    // Every version must keep its object's kind and client (the server checks it: a clinician
    // on client A's team cannot add versions to client B's objects by tagging them A).
    let mut owners = Owners::default();
    owners
        .prefetch(env, tenant, req.objects.iter().map(|i| i.object_id))
        .await?;
    let clients = owners
        .keep_consistent(env, tenant, clients, req, &mut results)
        .await?;
    let others = owners
        .keep_consistent(env, tenant, others, req, &mut results)
        .await?;

    // Client records; a client that does not exist yet may be created by anyone who may write
    // client records at all, and its creator joins its care team.
    let mut creating: HashSet<ObjectId> = HashSet::new();
    let mut allowed = Vec::with_capacity(clients.len());
    for c in clients {
        let new = creating.contains(&c.client)
            || !env.stores.objects.has_object(tenant, c.client).await?;
        if new {
            creating.insert(c.client);
        }
        let item = &req.objects[c.index];
        if let Some(team) = &item.team {
            let refusal = if !new {
                Some("team is only taken with a new client's first version".to_string())
            } else {
                super::teams::check_assignment(env, caller, team)
                    .await?
                    .err()
            };
            if let Some(reason) = refusal {
                results[c.index] = Some(rejected(item, reason));
                continue;
            }
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
    store_batch(env, tenant, allowed, &mut results, |client, outcome| {
        if creating.contains(&client) && matches!(outcome, PutOutcome::Created { .. }) {
            new_clients.insert(client);
        }
    })
    .await?;
    for client in &new_clients {
        // A clinician who creates a client treats them; front desk and admins do not join.
        if caller.role() == Role::Clinician {
            env.stores
                .identity
                .add_care_team(tenant, *client, caller.session.user_id)
                .await?;
        }
        let team = req
            .objects
            .iter()
            .filter(|i| i.object_id == *client && i.kind == Kind::Client as u8)
            .find_map(|i| i.team.as_deref());
        if let Some(team) = team {
            super::teams::assign_at_creation(env, caller, *client, team).await?;
        }
    }

    // Everything else.
    let mut allowed = Vec::with_capacity(others.len());
    for c in others {
        if req.objects[c.index].team.is_some() {
            results[c.index] = Some(rejected(
                &req.objects[c.index],
                "team is only taken with a new client record",
            ));
            continue;
        }
        if new_clients.contains(&c.client) || access.may(c.kind, Some(c.client)).await? {
            allowed.push(c);
        } else {
            results[c.index] = Some(rejected(
                &req.objects[c.index],
                "not on this client's care team",
            ));
        }
    }
    store_batch(env, tenant, allowed, &mut results, |_, _| {}).await?;

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
    let summary = audit::entry(
        env,
        caller,
        "object.push",
        Some(format!("{created} created of {}", results.len())),
    );
    audit::audit_clients(env, caller, CLIENT_CREATE, &per_client, vec![summary]).await?;
    Ok(results)
}

/// Stores `batch` in one storage call and fills in its results.
async fn store_batch(
    env: Env<'_>,
    tenant: TenantId,
    batch: Vec<Candidate>,
    results: &mut [Option<PushResult>],
    mut on_outcome: impl FnMut(ObjectId, PutOutcome),
) -> DomainResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (slots, objects): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|c| ((c.index, c.client), c.stored))
        .unzip();
    let outcomes = env.stores.objects.put_objects(tenant, &objects).await?;
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

/// What a pull asks for (`?after=&limit=&exclude_own=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullQuery {
    /// The cursor: versions after this feed position.
    pub after: u64,
    /// Page size wanted (default [`DEFAULT_PULL_LIMIT`], clamped to 1..=[`MAX_PULL_LIMIT`]).
    pub limit: Option<u64>,
    /// Leave out versions this device pushed itself (it holds them), so a device's first pull
    /// after a big push is not its own data coming back.
    pub exclude_own: bool,
}

/// **A pull page**: the versions after `q.after` the caller may read, up to `limit` versions and
/// [`MAX_PULL_BYTES`] of envelopes (the first version always fits), looking at no more than
/// [`MAX_PULL_SCAN`] feed rows; audited per client delivered; with the tenant's key epoch and
/// policy fingerprint.
pub async fn pull(env: Env<'_>, caller: &Caller, q: PullQuery) -> DomainResult<PullPage> {
    let tenant = caller.tenant;
    let after = q.after;
    // Feed positions are 1..=i64::MAX on both adapters: a bigger cursor names no position
    // (it used to wrap and answer the whole feed from the start).
    if i64::try_from(after).is_err() {
        return Err(DomainError::invalid(
            ErrorCode::BadQuery,
            format!("after must be at most {}", i64::MAX),
        ));
    }
    if q.limit == Some(0) {
        return Err(DomainError::invalid(
            ErrorCode::BadQuery,
            format!("limit must be 1..={MAX_PULL_LIMIT} (larger values are clamped)"),
        ));
    }
    let limit = q
        .limit
        .unwrap_or(DEFAULT_PULL_LIMIT)
        .clamp(1, u64::from(MAX_PULL_LIMIT)) as u32;
    let own = caller.device.device_id;
    let mut objects = Vec::new();
    let mut delivered = 0usize;
    let mut bytes = 0usize;
    let mut access = AccessCache::new(env, caller);
    let mut scan_after = after;
    let mut scanned = 0usize;
    let mut has_more = true;
    let mut next_after = after;
    // Scan store pages until the page is full, the byte cap is reached, the feed ends, or
    // enough rows were looked at for one request.
    'scan: while delivered < limit as usize && scanned < MAX_PULL_SCAN {
        let page = env
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
            if (q.exclude_own && o.device_id == own) || !access.may(kind, o.client_id).await? {
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
        let summary = audit::entry(
            env,
            caller,
            "object.pull",
            Some(format!("{delivered} versions after {after}")),
        );
        audit::audit_clients(env, caller, CLIENT_DELIVER, &per_client, vec![summary]).await?;
    }
    // The tenant's key epoch and policy fingerprint ride on every page: a device still sealing
    // under an older epoch (a revocation rotated it) fetches the keys again before it writes
    // new data, and one with another policy fetches and applies the new one.
    let t = env.stores.tenants.get_tenant(tenant).await?;
    // The caller's access fingerprint, on the page that ends the feed (once per sync, not
    // per page): a device holding another one refreshes "my clients" and drops the rest.
    let access_tag = if has_more {
        None
    } else {
        let mine =
            super::teams::access_of(env, tenant, caller.session.user_id, caller.role()).await?;
        Some(mine.tag())
    };
    Ok(PullPage {
        objects,
        next_after,
        has_more,
        key_epoch: t.as_ref().map(|t| t.current_epoch),
        policy_tag: t.map(|t| t.policy.tag()),
        access_tag,
    })
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
