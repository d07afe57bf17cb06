//! Keys from the server: the tenant keys (every epoch) and the client keys this user may hold
//! now, both sealed to a one-time X25519 key made for the request (ADR 0015); and the first
//! keys of clients created on this device, registered before anything sealed under them is
//! pushed, so the rest of the care team can open it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ward_proto::api::{ReleaseRequest, Released, decode_release_payload, release_context};
use ward_proto::client_keys::{
    MAX_REGISTER, NewClientKey, RegisterClientKeys, RegisteredClientKeys, client_release_context,
    decode_client_key_payload,
};
use ward_proto::sealed::SealRequestKey;

use super::client::{ApiClient, Session};
use super::error::{ClientError, SyncError};
use super::report::SyncReport;
use crate::vault::Vault;

fn protocol(e: impl std::fmt::Display) -> ClientError {
    ClientError::Sync(SyncError::Protocol(e.to_string()))
}

/// What a release installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysReleased {
    /// The tenant's current epoch.
    pub current_epoch: u32,
    /// Client keys now held.
    pub client_keys: usize,
    /// Clients whose keys this device deleted (no longer released to the user).
    pub clients_revoked: usize,
}

/// Fetches the tenant keys and this user's client keys sealed to a one-time X25519 key and
/// installs them in the vault; asks for first keys of held clients that have none.
pub async fn release(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
) -> Result<KeysReleased, ClientError> {
    let request_key = SealRequestKey::generate().map_err(protocol)?;
    let client_request_key = SealRequestKey::generate().map_err(protocol)?;
    let ensure = vault.with_unlocked(|ctx| Ok(ctx.clients_without_keys()))?;
    let released: Released = api
        .signed_json(
            session,
            Method::POST,
            &api.path("/keys/release"),
            &ReleaseRequest {
                ephemeral_public: URL_SAFE_NO_PAD.encode(request_key.public_key()),
                ensure,
                client_ephemeral_public: Some(
                    URL_SAFE_NO_PAD.encode(client_request_key.public_key()),
                ),
            },
        )
        .await?;
    let payload = request_key
        .open(&released.sealed, &release_context(api.tenant()))
        .map_err(protocol)?;
    let keys = decode_release_payload(&payload, &released.epochs).map_err(protocol)?;
    let client_keys = match &released.client_keys {
        Some(sealed) => {
            let payload = client_request_key
                .open(sealed, &client_release_context(api.tenant()))
                .map_err(protocol)?;
            Some(decode_client_key_payload(&payload).map_err(protocol)?)
        }
        None => None,
    };
    let (held, revoked) = vault.with_unlocked(|ctx| {
        ctx.install_tenant_keys(keys)?;
        match client_keys {
            Some(ks) => {
                let n = ks.len();
                let gone = ctx.install_client_keys(ks)?;
                Ok((n, gone.len()))
            }
            None => Ok((0, 0)),
        }
    })?;
    vault.set_sync_meta_i64("current_epoch", i64::from(released.current_epoch))?;
    Ok(KeysReleased {
        current_epoch: released.current_epoch,
        client_keys: held,
        clients_revoked: revoked,
    })
}

/// Whether a record could not be written for want of a client key since the last release.
pub fn keys_wanted(vault: &Vault) -> Result<bool, ClientError> {
    Ok(vault.with_unlocked(|ctx| ctx.keys_wanted())?)
}

/// Registers the first keys of clients created here that the server does not hold yet.
/// Returns how many it registered; refusals are logged and the keys kept (the data sealed
/// under them stays readable here, and a wipe's rescue carries it to the clinic).
pub async fn register(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
    report: &mut SyncReport,
) -> Result<usize, ClientError> {
    let pending = vault.with_unlocked(|ctx| ctx.unregistered_client_keys())?;
    send(
        api,
        session,
        report,
        &api.path("/keys/clients"),
        &pending,
        |done| vault.with_unlocked(|ctx| ctx.mark_client_keys_registered(done)),
    )
    .await
}

/// Before a wipe's rescue: registers the first keys the rescued versions are sealed under
/// (a client created on this phone and never synced), so the clinic can open them.
pub async fn register_for_rescue(
    vault: &Vault,
    api: &ApiClient,
    session: &Session,
) -> Result<usize, ClientError> {
    let pending = vault.with_unlocked_for_wipe(|ctx| ctx.unregistered_client_keys())?;
    let mut report = SyncReport::default();
    send(
        api,
        session,
        &mut report,
        &api.path("/wipe/keys"),
        &pending,
        |done| vault.with_unlocked_for_wipe(|ctx| ctx.mark_client_keys_registered(done)),
    )
    .await
}

async fn send(
    api: &ApiClient,
    session: &Session,
    report: &mut SyncReport,
    path: &str,
    pending: &[ward_proto::ClientKey],
    mark: impl Fn(&[ward_proto::ObjectId]) -> crate::error::Result<()>,
) -> Result<usize, ClientError> {
    let mut registered = 0;
    for batch in pending.chunks(MAX_REGISTER) {
        let body = RegisterClientKeys {
            keys: batch
                .iter()
                .map(|k| NewClientKey {
                    client_id: k.client,
                    generation: k.generation,
                    key: URL_SAFE_NO_PAD.encode(k.key.expose_secret()),
                })
                .collect(),
        };
        report.requests += 1;
        let out: RegisteredClientKeys = api.signed_json(session, Method::POST, path, &body).await?;
        for r in &out.refused {
            tracing::warn!(client = %r.client_id, reason = %r.reason, "client key refused");
        }
        mark(&out.registered)?;
        registered += out.registered.len();
    }
    Ok(registered)
}
