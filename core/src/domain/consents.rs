//! Consents per client with clinical / training / marketing scopes, and their withdrawal.
//!
//! Withdrawal writes a new version with `withdrawn_at_ms`; the given version stays on record.
//! Photo capture checks for an active clinical consent when the tenant policy requires it; a
//! share of a photo checks for an active consent of the share's purpose at the time of the share
//! ([`Vault::share_photo`](crate::vault::Vault::share_photo)), so a withdrawal blocks every later
//! share of that purpose.

use ward_proto::{Kind, ObjectId};

use crate::domain::clients::{self, parse_id, validate_text};
use crate::error::{CoreError, Result};
use crate::records::{ConsentRecord, ConsentScopeRecord};
use crate::vault::audit::Action;
use crate::vault::index::VersionEntry;
use crate::vault::{Ctx, NewVersion, Vault};

/// What a consent covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentScope {
    /// Clinical documentation.
    Clinical,
    /// Staff training.
    Training,
    /// Marketing.
    Marketing,
}

impl From<ConsentScope> for ConsentScopeRecord {
    fn from(s: ConsentScope) -> Self {
        match s {
            ConsentScope::Clinical => ConsentScopeRecord::Clinical,
            ConsentScope::Training => ConsentScopeRecord::Training,
            ConsentScope::Marketing => ConsentScopeRecord::Marketing,
        }
    }
}

impl From<ConsentScopeRecord> for ConsentScope {
    fn from(s: ConsentScopeRecord) -> Self {
        match s {
            ConsentScopeRecord::Clinical => ConsentScope::Clinical,
            ConsentScopeRecord::Training => ConsentScope::Training,
            ConsentScopeRecord::Marketing => ConsentScope::Marketing,
        }
    }
}

/// A consent as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentView {
    /// Consent id.
    pub consent_id: String,
    /// Current version.
    pub version_id: String,
    /// Client.
    pub client_id: String,
    /// Scopes.
    pub scopes: Vec<ConsentScope>,
    /// When given.
    pub given_at_ms: i64,
    /// Who recorded it.
    pub recorded_by: String,
    /// How it was obtained.
    pub detail: Option<String>,
    /// When withdrawn, if it was.
    pub withdrawn_at_ms: Option<i64>,
}

impl ConsentView {
    /// Whether it is in force.
    pub fn is_active(&self) -> bool {
        self.withdrawn_at_ms.is_none()
    }
}

fn view(id: ObjectId, v: &VersionEntry<ConsentRecord>) -> Result<ConsentView> {
    let c = v
        .record
        .as_ref()
        .map_err(|e| CoreError::corrupt(format!("{id}/{}", v.version), e))?;
    Ok(ConsentView {
        consent_id: id.to_string(),
        version_id: v.version.to_string(),
        client_id: c.client_id.to_string(),
        scopes: c.scopes.iter().map(|s| (*s).into()).collect(),
        given_at_ms: c.given_at_ms,
        recorded_by: c.recorded_by.clone(),
        detail: c.detail.clone(),
        withdrawn_at_ms: c.withdrawn_at_ms,
    })
}

/// The current version of a consent.
pub(crate) fn current(ctx: &Ctx<'_>, id: ObjectId) -> Result<(ConsentRecord, ConsentView)> {
    let vs = ctx
        .unlocked
        .index
        .consents
        .get(&id)
        .ok_or_else(|| CoreError::NotFound {
            what: "consent",
            id: id.to_string(),
        })?;
    let head = vs
        .current()
        .ok_or_else(|| CoreError::corrupt(id, "no versions"))?;
    let v = view(id, head)?;
    let rec = head
        .record
        .as_ref()
        .map_err(|e| CoreError::corrupt(id, e))?
        .clone();
    Ok((rec, v))
}

/// Checks that `consent` is an active consent of `client` covering `scope`.
pub(crate) fn require_active(
    ctx: &Ctx<'_>,
    client: ObjectId,
    consent: ObjectId,
    scope: ConsentScopeRecord,
) -> Result<()> {
    let (rec, v) = current(ctx, consent)?;
    if rec.client_id != client {
        return Err(CoreError::NotAllowed(
            "that consent belongs to another client".into(),
        ));
    }
    if !v.is_active() {
        return Err(CoreError::NotAllowed(
            "that consent has been withdrawn".into(),
        ));
    }
    if !rec.scopes.contains(&scope) {
        return Err(CoreError::NotAllowed(
            "that consent does not cover clinical photos".into(),
        ));
    }
    Ok(())
}

/// Which uses of a photo its client consents to now: the scopes of the client's active
/// consents (a consent covers the client's photos, earlier and later ones).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoUses {
    /// The photo.
    pub photo_id: String,
    /// Its client.
    pub client_id: String,
    /// Scopes in force now, in the order clinical, training, marketing.
    pub scopes: Vec<ConsentScope>,
    /// The active consents that grant them.
    pub consent_ids: Vec<String>,
    /// The consent the photo was taken under, if any.
    pub taken_under: Option<String>,
    /// Whether that consent is still in force.
    pub taken_under_active: bool,
}

/// The active consents of `client` (newest first).
fn active_of(ctx: &Ctx<'_>, client: ObjectId) -> Vec<ConsentView> {
    let mut out: Vec<ConsentView> = ctx
        .unlocked
        .index
        .consents
        .iter()
        .filter_map(|(id, vs)| view(*id, vs.current()?).ok())
        .filter(|c| c.client_id == client.to_string() && c.is_active())
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.given_at_ms));
    out
}

/// The uses of a photo of `client` taken under `taken_under`.
pub(crate) fn uses_of(
    ctx: &Ctx<'_>,
    photo: ObjectId,
    client: ObjectId,
    taken_under: Option<ObjectId>,
) -> PhotoUses {
    let active = active_of(ctx, client);
    let mut scopes: Vec<ConsentScopeRecord> = active
        .iter()
        .flat_map(|c| c.scopes.iter().map(|s| (*s).into()))
        .collect();
    scopes.sort();
    scopes.dedup();
    let taken = taken_under.map(|t| t.to_string());
    PhotoUses {
        photo_id: photo.to_string(),
        client_id: client.to_string(),
        scopes: scopes.into_iter().map(Into::into).collect(),
        consent_ids: active.iter().map(|c| c.consent_id.clone()).collect(),
        taken_under_active: taken
            .as_ref()
            .is_some_and(|t| active.iter().any(|c| &c.consent_id == t)),
        taken_under: taken,
    }
}

/// The newest active consent of `client` covering `scope`, for a share of that purpose; a
/// clinical share without one is allowed only where the clinic does not require photo consent.
pub(crate) fn consent_for_use(
    ctx: &Ctx<'_>,
    client: ObjectId,
    scope: ConsentScope,
) -> Result<Option<String>> {
    let found = active_of(ctx, client)
        .into_iter()
        .find(|c| c.scopes.contains(&scope))
        .map(|c| c.consent_id);
    match (found, scope) {
        (Some(c), _) => Ok(Some(c)),
        (None, ConsentScope::Clinical) if !ctx.policy.photo_consent_required => Ok(None),
        (None, s) => Err(CoreError::NotAllowed(format!(
            "the client has no active {} consent: record one before sharing for this use",
            scope_name(s)
        ))),
    }
}

/// The scope's name as the apps and the audit log say it.
pub fn scope_name(s: ConsentScope) -> &'static str {
    match s {
        ConsentScope::Clinical => "clinical",
        ConsentScope::Training => "training",
        ConsentScope::Marketing => "marketing",
    }
}

impl Vault {
    /// Records a consent given by a client.
    pub fn record_consent(
        &self,
        client_id: &str,
        scopes: Vec<ConsentScope>,
        detail: Option<String>,
    ) -> Result<ConsentView> {
        let client: ObjectId = parse_id(client_id, "client")?;
        if scopes.is_empty() {
            return Err(CoreError::Invalid(
                "a consent needs at least one scope".into(),
            ));
        }
        if let Some(d) = &detail {
            validate_text("consent detail", d, 2000)?;
        }
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let mut scopes: Vec<ConsentScopeRecord> = scopes.into_iter().map(Into::into).collect();
            scopes.sort();
            scopes.dedup();
            let rec = ConsentRecord {
                client_id: client,
                scopes,
                given_at_ms: ctx.now_ms,
                recorded_by: ctx.ident.actor.clone(),
                detail,
                withdrawn_at_ms: None,
            };
            let id = ObjectId::random();
            let json = serde_json::to_vec(&rec)?;
            let object = ctx.new_ref(id, Kind::Consent);
            ctx.store_record(
                &NewVersion {
                    object,
                    client: Some(client),
                    parent: None,
                    plaintext: &json,
                    note: None,
                },
                Action::Create,
            )?;
            Ok(current(ctx, id)?.1)
        })
    }

    /// Withdraws a consent (a new version; the original stays on record).
    pub fn withdraw_consent(&self, consent_id: &str) -> Result<ConsentView> {
        let id: ObjectId = parse_id(consent_id, "consent")?;
        self.with_unlocked(|ctx| {
            let (mut rec, v) = current(ctx, id)?;
            if !v.is_active() {
                return Ok(v);
            }
            rec.withdrawn_at_ms = Some(ctx.now_ms);
            let json = serde_json::to_vec(&rec)?;
            let object = ctx.new_ref(id, Kind::Consent);
            let parent = Some(parse_id(&v.version_id, "version")?);
            ctx.store_record(
                &NewVersion {
                    object,
                    client: Some(rec.client_id),
                    parent,
                    plaintext: &json,
                    note: None,
                },
                Action::Withdraw,
            )?;
            Ok(current(ctx, id)?.1)
        })
    }

    /// A client's consents, newest first.
    pub fn list_consents(&self, client_id: &str) -> Result<Vec<ConsentView>> {
        let client: ObjectId = parse_id(client_id, "client")?;
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let mut out: Vec<ConsentView> = ctx
                .unlocked
                .index
                .consents
                .iter()
                .filter_map(|(id, vs)| view(*id, vs.current()?).ok())
                .filter(|c| c.client_id == client.to_string())
                .collect();
            out.sort_by_key(|c| std::cmp::Reverse(c.given_at_ms));
            Ok(out)
        })
    }
}
