//! Clients (patients): create, edit (new version), list, open.
//!
//! What is listed is what the vault holds: a client the user may no longer read was dropped
//! at the last sync (`crate::vault::forget`) and is gone from the index. A client held through
//! an emergency (break-glass) access carries when that access ends, from the access the device
//! last synced under.

use std::collections::HashMap;

use ward_proto::people::AccessVia;
use ward_proto::{Kind, ObjectId, VersionId};

use crate::error::{CoreError, Result};
use crate::records::ClientRecord;
use crate::vault::audit::Action;
use crate::vault::index::{VersionEntry, Versions};
use crate::vault::{Ctx, NewVersion, Vault};

/// What staff enter for a client.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientInput {
    /// Name as shown to staff (required).
    pub display_name: String,
    /// Date of birth, ISO 8601 (YYYY-MM-DD).
    pub date_of_birth: Option<String>,
    /// The clinic's chart number.
    pub external_ref: Option<String>,
}

/// A client as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientView {
    /// Client id.
    pub client_id: String,
    /// Current version.
    pub version_id: String,
    /// Name.
    pub display_name: String,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// Chart number.
    pub external_ref: Option<String>,
    /// When this version was written.
    pub updated_at_ms: i64,
    /// Set when the user reads this client through an emergency (break-glass) access, not
    /// as a member of the care team: when that access ends (ms since the Unix epoch), as of
    /// the last sync. The device drops the client at its first sync after that.
    #[uniffi(default)]
    pub break_glass_until_ms: Option<i64>,
}

/// Parses an id from the app, naming what it should be on error.
pub fn parse_id<T: std::str::FromStr>(s: &str, what: &str) -> Result<T> {
    s.trim()
        .parse()
        .map_err(|_| CoreError::Invalid(format!("'{s}' is not a valid {what} id")))
}

pub(crate) fn validate_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(CoreError::Invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

impl ClientInput {
    fn into_record(self, ctx: &Ctx<'_>) -> Result<ClientRecord> {
        let name = self.display_name.trim().to_string();
        if name.is_empty() {
            return Err(CoreError::Invalid("a client needs a name".into()));
        }
        validate_text("name", &name, 200)?;
        if let Some(dob) = &self.date_of_birth {
            let ok = dob.len() == 10
                && dob.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(CoreError::Invalid(
                    "date of birth must be YYYY-MM-DD".into(),
                ));
            }
        }
        if let Some(r) = &self.external_ref {
            validate_text("chart number", r, 64)?;
        }
        Ok(ClientRecord {
            display_name: name,
            date_of_birth: self.date_of_birth,
            external_ref: self.external_ref,
            created_at_ms: ctx.now_ms,
            created_by: ctx.ident.actor.clone(),
        })
    }
}

/// When each client held through break-glass stops being readable, from the access the
/// device last synced under (empty before the first sync that brought one).
fn break_glass(ctx: &Ctx<'_>) -> HashMap<ObjectId, i64> {
    match ctx.stored_access() {
        Ok(Some(access)) => access
            .clients
            .iter()
            .filter(|c| c.via == AccessVia::BreakGlass)
            .filter_map(|c| Some((c.client_id, c.expires_at_ms?)))
            .collect(),
        Ok(None) => HashMap::new(),
        Err(e) => {
            tracing::warn!(error = %e, "the stored access is unreadable; listing without it");
            HashMap::new()
        }
    }
}

fn view(
    id: ObjectId,
    v: &VersionEntry<ClientRecord>,
    break_glass: &HashMap<ObjectId, i64>,
) -> Result<ClientView> {
    let c = v
        .record
        .as_ref()
        .map_err(|e| CoreError::corrupt(format!("{id}/{}", v.version), e))?;
    Ok(ClientView {
        client_id: id.to_string(),
        version_id: v.version.to_string(),
        display_name: c.display_name.clone(),
        date_of_birth: c.date_of_birth.clone(),
        external_ref: c.external_ref.clone(),
        updated_at_ms: v.created_at_ms,
        break_glass_until_ms: break_glass.get(&id).copied(),
    })
}

pub(crate) fn current(ctx: &Ctx<'_>, id: ObjectId) -> Result<ClientView> {
    current_with(ctx, id, &break_glass(ctx))
}

fn current_with(
    ctx: &Ctx<'_>,
    id: ObjectId,
    break_glass: &HashMap<ObjectId, i64>,
) -> Result<ClientView> {
    let versions: &Versions<ClientRecord> =
        ctx.unlocked
            .index
            .clients
            .get(&id)
            .ok_or_else(|| CoreError::NotFound {
                what: "client",
                id: id.to_string(),
            })?;
    let head = versions
        .current()
        .ok_or_else(|| CoreError::corrupt(id, "no versions"))?;
    view(id, head, break_glass)
}

/// Fails unless `id` is a known client.
pub(crate) fn require(ctx: &Ctx<'_>, id: ObjectId) -> Result<()> {
    if ctx.unlocked.index.clients.contains_key(&id) {
        Ok(())
    } else {
        Err(CoreError::NotFound {
            what: "client",
            id: id.to_string(),
        })
    }
}

/// The sync bookkeeping key holding the clinicians assigned to a new client, until its first
/// version is acknowledged by the server.
pub fn team_meta_key(client: ObjectId) -> String {
    format!("team.{client}")
}

impl Vault {
    /// Adds a client.
    pub fn create_client(&self, input: ClientInput) -> Result<ClientView> {
        self.create_client_as(ObjectId::random(), input)
    }

    /// Adds a client and names the clinicians who treat them (front desk registering a
    /// patient): the assignment travels with the client record's first push
    /// ([`team_meta_key`]), so it happens in the same step on the server, offline or not.
    /// The assignment is written before the record, so a crash leaves either both or an
    /// assignment no record will ever carry (ignored).
    pub fn create_client_assigned(
        &self,
        input: ClientInput,
        team: &[uuid::Uuid],
    ) -> Result<ClientView> {
        let id = ObjectId::random();
        if !team.is_empty() {
            self.set_sync_meta(&team_meta_key(id), &serde_json::to_vec(team)?)?;
        }
        self.create_client_as(id, input)
    }

    fn create_client_as(&self, id: ObjectId, input: ClientInput) -> Result<ClientView> {
        self.with_unlocked(|ctx| {
            let record = input.into_record(ctx)?;
            let json = serde_json::to_vec(&record)?;
            let object = ctx.new_ref(id, Kind::Client);
            ctx.store_record(
                &NewVersion {
                    object,
                    client: Some(id),
                    parent: None,
                    plaintext: &json,
                    note: None,
                },
                Action::Create,
            )?;
            current(ctx, id)
        })
    }

    /// Writes a new version of a client's details. `base_version` must be the version the
    /// user edited (the current one), so a concurrent change is never overwritten silently.
    pub fn update_client(
        &self,
        client_id: &str,
        base_version: &str,
        input: ClientInput,
    ) -> Result<ClientView> {
        let id: ObjectId = parse_id(client_id, "client")?;
        let base: VersionId = parse_id(base_version, "version")?;
        self.with_unlocked(|ctx| {
            let head = current(ctx, id)?;
            if head.version_id != base.to_string() {
                return Err(CoreError::NotAllowed(
                    "the client was changed since you opened it; reopen and try again".into(),
                ));
            }
            let mut record = input.into_record(ctx)?;
            record.created_at_ms = ctx.now_ms;
            let json = serde_json::to_vec(&record)?;
            let object = ctx.new_ref(id, Kind::Client);
            ctx.store_record(
                &NewVersion {
                    object,
                    client: Some(id),
                    parent: Some(base),
                    plaintext: &json,
                    note: None,
                },
                Action::Update,
            )?;
            current(ctx, id)
        })
    }

    /// Every client this device holds, by name ("my clients": after a sync, only those the
    /// user may still read, plus any created here and not yet synced). Damaged records are
    /// skipped here (and logged); opening one by id reports the damage.
    pub fn list_clients(&self) -> Result<Vec<ClientView>> {
        self.with_unlocked(|ctx| {
            let break_glass = break_glass(ctx);
            let mut out: Vec<ClientView> = ctx
                .unlocked
                .index
                .clients
                .keys()
                .filter_map(|id| current_with(ctx, *id, &break_glass).ok())
                .collect();
            out.sort_by_cached_key(|c| c.display_name.to_lowercase());
            Ok(out)
        })
    }

    /// Opens a client (audited as a view).
    pub fn get_client(&self, client_id: &str) -> Result<ClientView> {
        let id: ObjectId = parse_id(client_id, "client")?;
        self.with_unlocked(|ctx| {
            let v = current(ctx, id)?;
            ctx.audit_view(Kind::Client, id, Some(id))?;
            Ok(v)
        })
    }
}
