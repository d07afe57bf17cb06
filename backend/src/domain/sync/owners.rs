//! Which versions an object may take: every version keeps its object's kind (family) and
//! client, and nothing follows a signed note or an addendum (ADR 0013). Shared by push and a
//! revoked device's rescue.

use std::collections::HashMap;

use ward_proto::{Kind, NoteState, ObjectId, TenantId, VersionId};

use super::{ADDENDUM_IS_NEW, Candidate, NOTE_LOCKED, PushRequest, PushResult, rejected};
use crate::domain::{DomainResult, Env};
use crate::model::StoredObject;

/// The kinds one object may hold: a photo object holds its metadata, content and thumbnail
/// versions; every other kind is its own family.
fn family(kind: u8) -> u8 {
    match Kind::from_u8(kind) {
        Some(Kind::PhotoMeta | Kind::PhotoContent | Kind::Thumbnail) => Kind::PhotoMeta as u8,
        _ => kind,
    }
}

/// What a version must keep of its object: the kind (family), the client, and whether a
/// version already locks it (a signed note or an addendum: nothing may follow).
#[derive(Debug, Clone, Copy)]
pub(in crate::domain) struct Facts {
    kind: u8,
    client: ObjectId,
    locked_by: Option<VersionId>,
}

impl Facts {
    fn of(o: &StoredObject) -> Self {
        Self {
            kind: o.kind,
            client: o.client_id.unwrap_or(o.object_id),
            locked_by: o.locks().then_some(o.version_id),
        }
    }
}

/// What each object touched by a request is (kind), whose (client) and whether it is locked:
/// from storage, or from the request's own earlier versions.
#[derive(Default)]
pub(in crate::domain) struct Owners(HashMap<ObjectId, Option<Facts>>);

impl Owners {
    /// Looks up every object of `batch` not known yet, in one port call.
    pub(in crate::domain) async fn prefetch(
        &mut self,
        env: Env<'_>,
        tenant: TenantId,
        objects: impl IntoIterator<Item = ObjectId>,
    ) -> DomainResult<()> {
        let mut wanted: Vec<ObjectId> = objects
            .into_iter()
            .filter(|o| !self.0.contains_key(o))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let found = env.stores.objects.any_versions(tenant, &wanted).await?;
        for o in wanted {
            self.0.insert(o, found.get(&o).map(Facts::of));
        }
        Ok(())
    }

    /// Why `c` cannot be a version of its object, if it cannot. A version that passes is
    /// remembered: a later version of the same request must keep its kind and client, and
    /// cannot follow it if it locks the object.
    pub(in crate::domain) async fn refusal(
        &mut self,
        env: Env<'_>,
        tenant: TenantId,
        c: &Candidate,
    ) -> DomainResult<Option<&'static str>> {
        let object = c.stored.object_id;
        let known = match self.0.get(&object) {
            Some(k) => *k,
            None => {
                let k = env
                    .stores
                    .objects
                    .any_version(tenant, object)
                    .await?
                    .as_ref()
                    .map(Facts::of);
                self.0.insert(object, k);
                k
            }
        };
        let locks = c.stored.locks().then_some(c.stored.version_id);
        let Some(facts) = known else {
            self.0.insert(
                object,
                Some(Facts {
                    kind: c.stored.kind,
                    client: c.client,
                    locked_by: locks,
                }),
            );
            return Ok(None);
        };
        if family(facts.kind) != family(c.stored.kind) {
            return Ok(Some("this object id holds another kind of record"));
        }
        if facts.client != c.client {
            return Ok(Some("this object belongs to another client"));
        }
        if c.stored.note_state == Some(NoteState::Addendum) {
            // An addendum is written once as a new object; only its own retry may come again.
            return Ok(match facts.locked_by {
                Some(v) if v == c.stored.version_id => None,
                _ => Some(ADDENDUM_IS_NEW),
            });
        }
        match facts.locked_by {
            // The locking version itself again (a retry): the store answers duplicate/conflict.
            Some(v) if v == c.stored.version_id => Ok(None),
            // A version stored before the lock, sent again (a retry of an earlier push).
            Some(_) if self.already_stored(env, tenant, c).await? => Ok(None),
            Some(_) => Ok(Some(NOTE_LOCKED)),
            None => {
                if locks.is_some() {
                    self.0.insert(
                        object,
                        Some(Facts {
                            locked_by: locks,
                            ..facts
                        }),
                    );
                }
                Ok(None)
            }
        }
    }

    async fn already_stored(
        &self,
        env: Env<'_>,
        tenant: TenantId,
        c: &Candidate,
    ) -> DomainResult<bool> {
        Ok(env
            .stores
            .objects
            .get_object(tenant, c.stored.object_id, c.stored.version_id)
            .await?
            .is_some())
    }

    /// `batch` without the versions that would change their object's kind or client (those
    /// get their rejection in `results`).
    pub(super) async fn keep_consistent(
        &mut self,
        env: Env<'_>,
        tenant: TenantId,
        batch: Vec<Candidate>,
        req: &PushRequest,
        results: &mut [Option<PushResult>],
    ) -> DomainResult<Vec<Candidate>> {
        let mut kept = Vec::with_capacity(batch.len());
        for c in batch {
            match self.refusal(env, tenant, &c).await? {
                Some(why) => results[c.index] = Some(rejected(&req.objects[c.index], why)),
                None => kept.push(c),
            }
        }
        Ok(kept)
    }
}
