//! Clients (patients): create, edit (new version), list, open.

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

fn view(id: ObjectId, v: &VersionEntry<ClientRecord>) -> Result<ClientView> {
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
    })
}

pub(crate) fn current(ctx: &Ctx<'_>, id: ObjectId) -> Result<ClientView> {
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
    view(id, head)
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

impl Vault {
    /// Adds a client.
    pub fn create_client(&self, input: ClientInput) -> Result<ClientView> {
        self.with_unlocked(|ctx| {
            let record = input.into_record(ctx)?;
            let id = ObjectId::random();
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

    /// Every client, by name. Damaged records are skipped here (and logged); opening one by
    /// id reports the damage.
    pub fn list_clients(&self) -> Result<Vec<ClientView>> {
        self.with_unlocked(|ctx| {
            let mut out: Vec<ClientView> = ctx
                .unlocked
                .index
                .clients
                .keys()
                .filter_map(|id| current(ctx, *id).ok())
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
