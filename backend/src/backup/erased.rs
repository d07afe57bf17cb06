//! The erasure ledger in backups (ADR 0016): which records of an archive belong to an erased
//! client, so that an export leaves them out and a restore never writes them back, even from
//! an archive made before the erasure.

use std::collections::{BTreeMap, HashSet};

use ward_proto::ObjectId;
use ward_proto::erasure::Erasure;

use super::record::Record;

/// Decides, record by record in archive order, what stays. A client's uploads and blobs follow
/// its object versions in the stream, so they are known by object once a version was dropped.
#[derive(Debug, Default)]
pub(super) struct ErasedFilter {
    clients: HashSet<ObjectId>,
    objects: HashSet<ObjectId>,
    /// Records left out.
    pub(super) left_out: u64,
}

impl ErasedFilter {
    /// A filter for these erased clients (more are added as the stream's ledger is read).
    pub(super) fn new(clients: impl IntoIterator<Item = ObjectId>) -> Self {
        Self {
            clients: clients.into_iter().collect(),
            ..Self::default()
        }
    }

    fn erased(&self, c: ObjectId) -> bool {
        self.clients.contains(&c)
    }

    /// Whether `rec` stays (ledger entries always do, and their client is erased from then on).
    pub(super) fn keeps(&mut self, rec: &Record) -> bool {
        let keep = match rec {
            Record::Erasure { erasure } => {
                self.clients.insert(erasure.client_id);
                true
            }
            Record::ClientKey { key } => !self.erased(key.client),
            Record::CareTeam { client, .. } => !self.erased(*client),
            Record::Object { object, .. } => {
                let gone = self.erased(object.object_id)
                    || object.client_id.is_some_and(|c| self.erased(c));
                if gone {
                    self.objects.insert(object.object_id);
                }
                !gone
            }
            Record::Upload { upload } => !self.objects.contains(&upload.object_id),
            Record::Blob { object, .. } => !self.objects.contains(object),
            Record::Quarantine { item } => {
                !(self.erased(item.object_id) || item.client_id.is_some_and(|c| self.erased(c)))
            }
            _ => true,
        };
        if !keep {
            self.left_out += 1;
        }
        keep
    }
}

/// `ours` and `later` merged by client, the later entry winning (a `Started` erasure an older
/// archive caught may be `Complete` in a newer ledger).
pub(super) fn merge(ours: Vec<Erasure>, later: &[Erasure]) -> BTreeMap<ObjectId, Erasure> {
    let mut all: BTreeMap<ObjectId, Erasure> = ours.into_iter().map(|e| (e.client_id, e)).collect();
    for e in later {
        all.insert(e.client_id, e.clone());
    }
    all
}
