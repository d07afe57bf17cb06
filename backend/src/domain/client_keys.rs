//! Per-client keys (ADR 0015): who may hold a client's key, their release sealed to a device,
//! the first keys devices make for clients they create offline, and rotation when someone
//! leaves a care team.
//!
//! Every generation of a client's key is stored sealed under the tenant's client-wrapping key
//! (the tenant key record at the reserved epoch 0, wrapped by the tenant KEK like every tenant
//! key and never released), bound to tenant, client and generation. A clinician's devices get
//! the keys of their caseload and their unexpired break-glass grants; admins' get every
//! client's; front desk's none (they hold identity records only, sealed under the tenant key).
//! A key is opened only in memory, to seal it again to the requesting device.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ward_proto::api::Role;
use ward_proto::client_keys::{
    MAX_REGISTER, RefusedClientKey, RegisterClientKeys, RegisteredClientKeys,
};
use ward_proto::errors::ErrorCode;
use ward_proto::{ClientKey, ObjectId, SymmetricKey, TenantId};

use super::{Caller, DomainError, DomainResult, Env, teams};
use crate::error::StoreError;
use crate::model::{CLIENT_WRAP_EPOCH, WrappedTenantKey};
use crate::store::{KeyPurpose, WrappedClientKey};

/// Attempts at a conditional write that lost to a concurrent one before giving up.
const ATTEMPTS: usize = 5;

/// The clients whose keys a caller's devices may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readable {
    /// Every client of the clinic (admins).
    All,
    /// These clients only (a clinician's caseload and grants; empty for front desk).
    Only(BTreeSet<ObjectId>),
}

impl Readable {
    /// Whether `client`'s key may be released.
    pub fn has(&self, client: ObjectId) -> bool {
        match self {
            Readable::All => true,
            Readable::Only(set) => set.contains(&client),
        }
    }

    fn is_nothing(&self) -> bool {
        matches!(self, Readable::Only(set) if set.is_empty())
    }
}

/// Who gets which client keys, by the session's role (a role change ends the user's sessions).
pub async fn readable(env: Env<'_>, caller: &Caller) -> DomainResult<Readable> {
    readable_by(env, caller.tenant, caller.session.user_id, caller.role()).await
}

async fn readable_by(
    env: Env<'_>,
    tenant: TenantId,
    user: uuid::Uuid,
    role: Role,
) -> DomainResult<Readable> {
    Ok(match role {
        Role::Admin => Readable::All,
        Role::FrontDesk => Readable::Only(BTreeSet::new()),
        Role::Clinician => {
            let mine = teams::access_of(env, tenant, user, Role::Clinician).await?;
            Readable::Only(mine.clients.iter().map(|c| c.client_id).collect())
        }
    })
}

fn wrap_context(tenant: TenantId, client: ObjectId, generation: u32) -> Vec<u8> {
    let mut c = b"ward client key wrap v1".to_vec();
    c.extend_from_slice(tenant.as_bytes());
    c.extend_from_slice(client.as_bytes());
    c.extend_from_slice(&generation.to_be_bytes());
    c
}

fn key_of(plain: &[u8]) -> DomainResult<SymmetricKey> {
    SymmetricKey::from_slice(plain)
        .ok_or_else(|| DomainError::internal("a stored key has the wrong length"))
}

/// The tenant's client-wrapping key, made on first use (a concurrent first use loses the
/// conditional write and reads the winner's).
async fn wrapping_key(env: Env<'_>, tenant: TenantId) -> DomainResult<SymmetricKey> {
    let t = env.tenant(tenant).await?;
    for _ in 0..ATTEMPTS {
        let stored = env.stores.tenants.tenant_keys(tenant).await?;
        if let Some(w) = stored.iter().find(|k| k.epoch == CLIENT_WRAP_EPOCH) {
            let plain = env
                .stores
                .keys
                .unwrap_tenant_key(tenant, &t.key_ref, w.purpose(), &w.wrapped)
                .await?;
            return key_of(&plain);
        }
        let (plain, wrapped) = env
            .stores
            .keys
            .generate_tenant_key(tenant, &t.key_ref, KeyPurpose::ClientWrap)
            .await?;
        let w = WrappedTenantKey {
            epoch: CLIENT_WRAP_EPOCH,
            wrapped,
            created_at_ms: env.now(),
            purpose_bound: true,
        };
        match env.stores.tenants.put_tenant_key(tenant, &w).await {
            Ok(()) => return key_of(&plain),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::conflict(
        ErrorCode::Conflict,
        "the client-wrapping key is being made concurrently; try again",
    ))
}

fn open(wrap: &SymmetricKey, tenant: TenantId, k: &WrappedClientKey) -> DomainResult<ClientKey> {
    let plain = wrap
        .open_small(&wrap_context(tenant, k.client, k.generation), &k.sealed)
        .map_err(|_| DomainError::internal("a stored client key failed to open"))?;
    Ok(ClientKey {
        client: k.client,
        generation: k.generation,
        key: key_of(&plain)?,
    })
}

/// Seals `key` as `client`'s `generation` and stores it once: `Ok(false)` if that generation
/// exists already.
async fn store(
    env: Env<'_>,
    wrap: &SymmetricKey,
    tenant: TenantId,
    key: &ClientKey,
) -> DomainResult<bool> {
    let sealed = wrap
        .seal_small(
            &wrap_context(tenant, key.client, key.generation),
            key.key.expose_secret(),
        )
        .map_err(DomainError::internal)?;
    let w = WrappedClientKey {
        client: key.client,
        generation: key.generation,
        sealed,
        created_at_ms: env.now(),
    };
    match env.stores.client_keys.put_client_key(tenant, &w).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every key of every client `caller` may read, after making first keys for the existing
/// clients that have none yet among those in `ensure` the caller may read and, for a
/// clinician, their whole caseload.
pub async fn released_to(
    env: Env<'_>,
    caller: &Caller,
    ensure: &[ObjectId],
) -> DomainResult<Vec<ClientKey>> {
    if ensure.len() > MAX_REGISTER {
        return Err(DomainError::invalid(
            ErrorCode::BadBody,
            format!("ensure names more than {MAX_REGISTER} clients"),
        ));
    }
    let tenant = caller.tenant;
    let readable = readable(env, caller).await?;
    if readable.is_nothing() {
        return Ok(Vec::new());
    }
    let wrap = wrapping_key(env, tenant).await?;
    let mut stored = env.stores.client_keys.client_keys(tenant).await?;
    stored.retain(|k| readable.has(k.client));
    let have: BTreeSet<ObjectId> = stored.iter().map(|k| k.client).collect();
    // A clinician's whole caseload gets keys now, so a patient front desk assigned this
    // morning can be written about offline this afternoon; admins', the clients asked for.
    let wanted: BTreeSet<ObjectId> = match &readable {
        Readable::Only(set) => set.iter().chain(ensure).copied().collect(),
        Readable::All => ensure.iter().copied().collect(),
    };
    let wanted: BTreeSet<ObjectId> = wanted
        .into_iter()
        .filter(|c| readable.has(*c) && !have.contains(c))
        .collect();
    for client in wanted {
        if teams::require_client(env, tenant, client).await.is_err() {
            continue;
        }
        let first = ClientKey::generate(client, 1).map_err(DomainError::internal)?;
        store(env, &wrap, tenant, &first).await?;
        // Whoever won the first write, release what is stored.
        stored.extend(
            env.stores
                .client_keys
                .keys_of_client(tenant, client)
                .await?,
        );
    }
    stored.iter().map(|k| open(&wrap, tenant, k)).collect()
}

fn refuse(client: ObjectId, reason: &str) -> RefusedClientKey {
    RefusedClientKey {
        client_id: client,
        reason: reason.into(),
    }
}

/// Registers first keys that a device made for clients it created: stored if the server does
/// not know the client yet (front desk registering a patient, a clinician offline), or the
/// caller may read it and it has no key; the same key again (a retry) is registered again.
/// Front desk never gets the key back in a release: only the care team does.
pub async fn register(
    env: Env<'_>,
    caller: &Caller,
    req: &RegisterClientKeys,
) -> DomainResult<RegisteredClientKeys> {
    caller.require_active()?;
    store_first_keys(env, caller, req).await
}

/// A revoked phone's rescue, before its wipe: the first keys its rescued versions are sealed
/// under (clients created on it and never synced exist nowhere else). Same rules as
/// [`register`]; the caller has passed `may_rescue`.
pub async fn register_for_rescue(
    env: Env<'_>,
    caller: &Caller,
    req: &RegisterClientKeys,
) -> DomainResult<RegisteredClientKeys> {
    super::lifecycle::may_rescue(caller)?;
    store_first_keys(env, caller, req).await
}

async fn store_first_keys(
    env: Env<'_>,
    caller: &Caller,
    req: &RegisterClientKeys,
) -> DomainResult<RegisteredClientKeys> {
    let tenant = caller.tenant;
    if req.keys.len() > MAX_REGISTER {
        return Err(DomainError::invalid(
            ErrorCode::TooManyObjects,
            format!("at most {MAX_REGISTER} keys per registration"),
        ));
    }
    let mut keys = Vec::with_capacity(req.keys.len());
    for k in &req.keys {
        let key = URL_SAFE_NO_PAD
            .decode(k.key.trim_end_matches('='))
            .ok()
            .and_then(|b| SymmetricKey::from_slice(&b))
            .ok_or_else(|| {
                DomainError::invalid(ErrorCode::BadBase64, "key must be 32 bytes, base64url")
            })?;
        keys.push(ClientKey {
            client: k.client_id,
            generation: k.generation,
            key,
        });
    }
    let readable = readable(env, caller).await?;
    let erased = super::erasure::erased(env, tenant).await?;
    let wrap = wrapping_key(env, tenant).await?;
    let mut out = RegisteredClientKeys {
        registered: Vec::new(),
        refused: Vec::new(),
    };
    for key in keys {
        let client = key.client;
        if erased.contains(&client) {
            out.refused.push(refuse(client, super::erasure::ERASED));
            continue;
        }
        if key.generation != 1 {
            out.refused.push(refuse(
                client,
                "a device registers only a client's first key",
            ));
            continue;
        }
        let known = env
            .stores
            .objects
            .any_version(tenant, client)
            .await?
            .is_some();
        if known && !readable.has(client) {
            out.refused
                .push(refuse(client, "you are not on this client's care team"));
            continue;
        }
        if !store(env, &wrap, tenant, &key).await? {
            let existing = env
                .stores
                .client_keys
                .keys_of_client(tenant, client)
                .await?;
            let same = existing
                .iter()
                .find(|k| k.generation == 1)
                .map(|k| open(&wrap, tenant, k))
                .transpose()?
                .is_some_and(|k| k.key.expose_secret() == key.key.expose_secret());
            if !same {
                out.refused
                    .push(refuse(client, "the client already has a first key"));
                continue;
            }
        }
        out.registered.push(client);
    }
    if !out.registered.is_empty() || !out.refused.is_empty() {
        caller
            .audit(
                env,
                "client_key.register",
                Some(format!(
                    "{} registered, {} refused",
                    out.registered.len(),
                    out.refused.len()
                )),
            )
            .await?;
    }
    Ok(out)
}

/// Makes `client`'s next key generation (after someone left its care team), so what is
/// written from now on cannot be opened with a key a departed member's device kept. Earlier
/// generations stay, for the data sealed under them. `None` if the client has no key yet.
pub async fn rotate(env: Env<'_>, tenant: TenantId, client: ObjectId) -> DomainResult<Option<u32>> {
    if env
        .stores
        .client_keys
        .keys_of_client(tenant, client)
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let wrap = wrapping_key(env, tenant).await?;
    rotate_with(env, &wrap, tenant, client).await
}

async fn rotate_with(
    env: Env<'_>,
    wrap: &SymmetricKey,
    tenant: TenantId,
    client: ObjectId,
) -> DomainResult<Option<u32>> {
    for _ in 0..ATTEMPTS {
        let newest = env
            .stores
            .client_keys
            .keys_of_client(tenant, client)
            .await?
            .iter()
            .map(|k| k.generation)
            .max();
        let Some(newest) = newest else {
            return Ok(None);
        };
        let next = ClientKey::generate(client, newest + 1).map_err(DomainError::internal)?;
        if store(env, wrap, tenant, &next).await? {
            return Ok(Some(next.generation));
        }
    }
    Err(DomainError::conflict(
        ErrorCode::Conflict,
        "the client's key is being rotated concurrently; try again",
    ))
}

/// The newest key generation of each client that has one.
pub async fn newest_generations(
    env: Env<'_>,
    tenant: TenantId,
) -> DomainResult<std::collections::BTreeMap<ObjectId, u32>> {
    let mut out = std::collections::BTreeMap::new();
    for k in env.stores.client_keys.client_keys(tenant).await? {
        let g = out.entry(k.client).or_insert(k.generation);
        *g = (*g).max(k.generation);
    }
    Ok(out)
}

/// After `device` was revoked: a new generation of every client key it may have held (its
/// user's clients), so what is written from now on cannot be opened with what the lost phone
/// kept. A generation made since `revoked_at_ms` counts as done, so a retried revocation does
/// not rotate twice. Returns how many clients were rotated.
pub async fn rotate_for_revoked(
    env: Env<'_>,
    tenant: TenantId,
    device: ward_proto::DeviceId,
    revoked_at_ms: i64,
) -> DomainResult<u32> {
    let Some(d) = env.stores.devices.get_device(tenant, device).await? else {
        return Ok(0);
    };
    let Some(user) = env.stores.identity.get_user(tenant, d.user_id).await? else {
        return Ok(0);
    };
    let readable = readable_by(env, tenant, user.user_id, user.role).await?;
    if readable.is_nothing() {
        return Ok(0);
    }
    let mut newest = std::collections::BTreeMap::<ObjectId, i64>::new();
    for k in env.stores.client_keys.client_keys(tenant).await? {
        let at = newest.entry(k.client).or_insert(k.created_at_ms);
        *at = (*at).max(k.created_at_ms);
    }
    let stale: Vec<ObjectId> = newest
        .into_iter()
        .filter(|(c, at)| readable.has(*c) && *at < revoked_at_ms)
        .map(|(c, _)| c)
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    let wrap = wrapping_key(env, tenant).await?;
    for client in &stale {
        rotate_with(env, &wrap, tenant, *client).await?;
    }
    Ok(u32::try_from(stale.len()).unwrap_or(u32::MAX))
}

/// Every stored generation of `client`'s key, in clear. No route sends these anywhere: it is
/// for checks run against the stores directly (the end-to-end tests that prove a lost
/// phone's keys do not open what was written after its revocation). Empty if the tenant has
/// no client-wrapping key yet.
pub async fn open_stored_keys(
    stores: &crate::store::Stores,
    tenant: TenantId,
    client: ObjectId,
) -> DomainResult<Vec<ClientKey>> {
    let t = stores
        .tenants
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| DomainError::not_found("no such tenant"))?;
    let stored = stores.tenants.tenant_keys(tenant).await?;
    let Some(w) = stored.iter().find(|k| k.epoch == CLIENT_WRAP_EPOCH) else {
        return Ok(Vec::new());
    };
    let plain = stores
        .keys
        .unwrap_tenant_key(tenant, &t.key_ref, w.purpose(), &w.wrapped)
        .await?;
    let wrap = key_of(&plain)?;
    stores
        .client_keys
        .keys_of_client(tenant, client)
        .await?
        .iter()
        .map(|k| open(&wrap, tenant, k))
        .collect()
}
