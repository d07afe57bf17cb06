//! **Erasure of one client** (GDPR Art. 17, ADR 0016): an admin, with a fresh step-up and a
//! typed reason, erases a client; inside the clinic's retention period only with a second,
//! override reason.
//!
//! The ledger entry is written first ([`ErasureStatus::Started`]). From that moment no device
//! may add to the client (pushes, rescues and key registrations of it are refused), every
//! device is told to delete what it holds of the client (`me/clients` lists it under `erased`,
//! so the access tag of every pull page changes), and no backup export carries it. Then every
//! stored copy goes: photo blobs (every S3 version, the replica's copies, unfinished uploads),
//! then the rows (key generations, care team, break-glass grants, quarantined versions, upload
//! state, version items, the feed rows last), and the entry becomes
//! [`ErasureStatus::Complete`]. A step that fails half-way leaves the entry `Started`; the same
//! request again finishes the job (and answers the finished entry once done).
//!
//! The audit log keeps that the erasure happened, by whom, when and why (the reasons are the
//! admin's words, not the client's content), and the earlier events naming the client's id.
//! Backups carry the ledger, and a restore re-applies it (`crate::backup`): an archive made
//! before the erasure yields nothing of the client.

use std::collections::{BTreeSet, HashSet};

use ward_proto::erasure::{EraseClientRequest, Erasure, ErasureStatus, MIN_ERASURE_REASON_CHARS};
use ward_proto::errors::ErrorCode;
use ward_proto::{ObjectId, TenantId};

use super::teams::{clean_reason, require_client};
use super::{Caller, DomainError, DomainResult, Env};

/// The audit action of an erasure being recorded (target: the reasons).
pub const CLIENT_ERASE: &str = "client.erase";
/// The audit action of an erasure finished (target: what was deleted, by count).
pub const CLIENT_ERASED: &str = "client.erase.complete";
/// Why a version, key or rescue of an erased client is refused.
pub const ERASED: &str = "this client was erased from the clinic";

const YEAR_MS: i64 = 365 * 24 * 3600 * 1000 + 6 * 3600 * 1000;
/// Purge rounds: a push that passed its erasure check just before the ledger entry was written
/// may land a version after the first listing; the next round finds it.
const ROUNDS: usize = 3;

/// Every client in the tenant's erasure ledger (started or complete).
pub async fn erased(env: Env<'_>, tenant: TenantId) -> DomainResult<HashSet<ObjectId>> {
    Ok(env
        .stores
        .erasures
        .erasures(tenant)
        .await?
        .into_iter()
        .map(|e| e.client_id)
        .collect())
}

/// The tenant's erasure ledger (admins).
pub async fn ledger(env: Env<'_>, caller: &Caller) -> DomainResult<Vec<Erasure>> {
    caller.require_admin()?;
    Ok(env.stores.erasures.erasures(caller.tenant).await?)
}

fn required_reason(text: &str, what: &str) -> DomainResult<String> {
    clean_reason(Some(text))?
        .filter(|r| r.chars().count() >= MIN_ERASURE_REASON_CHARS)
        .ok_or_else(|| {
            DomainError::invalid(
                ErrorCode::ReasonRequired,
                format!("type {what} (at least {MIN_ERASURE_REASON_CHARS} characters)"),
            )
        })
}

/// Until when the clinic must keep records whose newest entry is `newest_ms`.
fn held_until(retention_years: u32, newest_ms: Option<i64>) -> Option<i64> {
    let newest = newest_ms?;
    (retention_years > 0).then(|| newest + i64::from(retention_years) * YEAR_MS)
}

/// Erases `client` (see the module docs); answers the ledger entry.
pub async fn erase(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    req: &EraseClientRequest,
) -> DomainResult<Erasure> {
    caller.require_admin()?;
    caller.require_step_up(env.now())?;
    let tenant = caller.tenant;
    let reason = required_reason(&req.reason, "why this client is erased")?;
    let existing = env
        .stores
        .erasures
        .erasures(tenant)
        .await?
        .into_iter()
        .find(|e| e.client_id == client);
    let erasure = match existing {
        Some(e) if e.status == ErasureStatus::Complete => return Ok(e),
        Some(e) => e,
        None => start(env, caller, client, &reason, req).await?,
    };
    finish(env, caller, erasure).await
}

async fn start(
    env: Env<'_>,
    caller: &Caller,
    client: ObjectId,
    reason: &str,
    req: &EraseClientRequest,
) -> DomainResult<Erasure> {
    let tenant = caller.tenant;
    require_client(env, tenant, client).await?;
    let versions = env.stores.erasures.client_versions(tenant, client).await?;
    let policy = env.tenant(tenant).await?.policy;
    let newest = versions.iter().map(|v| v.created_at_ms).max();
    let hold = held_until(policy.records_retention_years, newest).filter(|t| *t > env.now());
    let override_reason = match (&hold, &req.hold_override_reason) {
        (None, _) => None,
        (Some(until), None) => {
            return Err(DomainError::conflict(
                ErrorCode::RetentionHold,
                format!(
                    "the client's records are inside the clinic's retention period ({} years \
                     after the last entry, until {}): give hold_override_reason to erase anyway",
                    policy.records_retention_years,
                    date(*until)
                ),
            ));
        }
        (Some(_), Some(r)) => Some(required_reason(r, "why the retention hold is overridden")?),
    };
    let erasure = Erasure {
        client_id: client,
        erased_by: caller.session.user_id,
        started_at_ms: env.now(),
        completed_at_ms: None,
        status: ErasureStatus::Started,
        hold_overridden: override_reason.is_some(),
        versions: 0,
        blobs: 0,
        keys: 0,
    };
    // The ledger first: from here on nothing is added to the client and devices delete it.
    env.stores.erasures.put_erasure(tenant, &erasure).await?;
    let target = match &override_reason {
        Some(o) => format!("{reason} (retention hold overridden: {o})"),
        None => reason.to_string(),
    };
    let mut e = super::audit::entry(env, caller, CLIENT_ERASE, Some(target));
    e.client = Some(client);
    env.stores.audit.append_entries(tenant, &[e]).await?;
    tracing::info!(%tenant, %client, "client erasure recorded");
    Ok(erasure)
}

async fn finish(env: Env<'_>, caller: &Caller, mut erasure: Erasure) -> DomainResult<Erasure> {
    let (tenant, client) = (caller.tenant, erasure.client_id);
    for _ in 0..ROUNDS {
        let versions = env.stores.erasures.client_versions(tenant, client).await?;
        let blob_objects: BTreeSet<ObjectId> = versions
            .iter()
            .filter(|v| v.blob)
            .map(|v| v.object)
            .collect();
        for object in blob_objects {
            erasure.blobs += env.stores.blobs.erase_object(tenant, object).await?;
        }
        let purged = env
            .stores
            .erasures
            .purge_client(tenant, client, &versions)
            .await?;
        erasure.versions += purged.versions;
        erasure.keys += purged.keys;
        if versions.is_empty() {
            break;
        }
    }
    erasure.status = ErasureStatus::Complete;
    erasure.completed_at_ms = Some(env.now());
    env.stores.erasures.put_erasure(tenant, &erasure).await?;
    let mut e = super::audit::entry(
        env,
        caller,
        CLIENT_ERASED,
        Some(format!(
            "{} versions, {} blob copies, {} key generations deleted",
            erasure.versions, erasure.blobs, erasure.keys
        )),
    );
    e.client = Some(client);
    env.stores.audit.append_entries(tenant, &[e]).await?;
    tracing::info!(%tenant, %client, versions = erasure.versions, blobs = erasure.blobs, "client erased");
    Ok(erasure)
}

/// `YYYY-MM-DD` of a time in ms (UTC), for messages.
fn date(ms: i64) -> String {
    super::text::iso8601(ms)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_holds() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_700_000_000_000), "2023-11-14");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(held_until(0, Some(5)), None);
        assert_eq!(held_until(10, None), None);
        assert_eq!(held_until(1, Some(0)), Some(YEAR_MS));
    }
}
