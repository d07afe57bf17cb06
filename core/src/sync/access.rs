//! "My clients": the access the server lets this user's devices hold, and what the device does
//! when it changes. Every pull that reaches the end of the feed carries an `access_tag`; when it
//! is not the one applied last, the engine fetches `/me/clients` and hands it to [`apply`]:
//!
//! - a held client the user may no longer read (taken off the care team, a break-glass access
//!   ended) is dropped from the device at once (`Vault::drop_client`; unsynced work is kept);
//! - a client the access now includes and this device has not followed from its start (added
//!   to the team, a break-glass grant) has versions the pull cursor already passed: the cursor
//!   goes back to the start and the feed is pulled again, this device's own versions included
//!   (the vault ignores versions it already holds);
//!
//! then the tag and the access are stored, with the reset cursor, in one transaction, so a cut
//! at any point repeats at most a harmless step. The decision itself is [`access_change`], a
//! pure function.

use ward_proto::ObjectId;
use ward_proto::people::MyClients;

use super::meta::{ACCESS, ACCESS_TAG, CURSOR, FULL_PULL};
use super::report::SyncReport;
use crate::error::CoreError;
use crate::vault::Vault;
use crate::vault::forget::HeldClients;

/// What a change of access asks of the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChange {
    /// Held clients the user may no longer read: drop them.
    pub drop: Vec<ObjectId>,
    /// The access now includes a client some of whose versions the pull cursor has already
    /// passed: pull the feed again from the start.
    pub repull: bool,
}

/// Decides what going from access `old` (the one applied last; `None` before the first) to
/// `new` means for a device holding `held`.
///
/// Drops every client with server-acknowledged versions here that `new` does not allow
/// (none when `new.all`). Pulls again from the start when `new` allows a client that `old`
/// did not and that this device has not followed from its start (a client created here, or
/// pulled whole, needs nothing more); or when `new` allows every client and `old` did not.
/// Without an `old` (a device enrolled, or updated, before the server sent access tags), what
/// the device holds from the start stands for it.
pub fn access_change(old: Option<&MyClients>, new: &MyClients, held: &HeldClients) -> AccessChange {
    let had = |c: ObjectId| old.is_some_and(|o| o.allows(c)) || held.from_start.contains(&c);
    if new.all {
        return AccessChange {
            drop: Vec::new(),
            repull: old.is_some_and(|o| !o.all),
        };
    }
    AccessChange {
        drop: held
            .synced
            .iter()
            .copied()
            .filter(|c| !new.allows(*c))
            .collect(),
        repull: new.clients.iter().any(|c| !had(c.client_id)),
    }
}

/// Applies the access `mine` the server answered for a page tagged `tag`: drops what it no
/// longer allows, counting the clients it removed data of in
/// [`SyncReport::clients_dropped`], and stores it. Returns whether the feed must be pulled
/// again from the start (the cursor is then already reset).
pub fn apply(
    vault: &Vault,
    tag: &str,
    mine: &MyClients,
    report: &mut SyncReport,
) -> Result<bool, CoreError> {
    let old = vault.stored_access()?;
    let held = vault.held_clients()?;
    let change = access_change(old.as_ref(), mine, &held);
    // An erased client goes whole, whatever the access says (unsynced work included: the
    // patient asked to be forgotten and the server refuses it).
    for client in &mine.erased {
        let outcome = vault.erase_client(*client)?;
        if outcome.dropped_versions > 0 {
            report.clients_dropped += 1;
        }
    }
    for client in &change.drop {
        let outcome = vault.drop_client(*client)?;
        if outcome.dropped_versions > 0 {
            report.clients_dropped += 1;
        }
        if outcome.kept_unsynced > 0 {
            tracing::warn!(%client, kept = outcome.kept_unsynced,
                "kept unsynced versions of a client the user may no longer read");
        }
    }
    let json = serde_json::to_vec(mine)?;
    let cursor = 0i64.to_be_bytes();
    let full = 1i64.to_be_bytes();
    let mut entries: Vec<(&str, &[u8])> =
        vec![(ACCESS, json.as_slice()), (ACCESS_TAG, tag.as_bytes())];
    if change.repull {
        tracing::info!(
            "the access now includes clients the feed went past: pulling from the start"
        );
        entries.push((CURSOR, cursor.as_slice()));
        entries.push((FULL_PULL, full.as_slice()));
    }
    vault.set_sync_meta_many(&entries)?;
    Ok(change.repull)
}

/// Whether a pull from the start ([`apply`]) is under way.
pub fn full_pull_pending(vault: &Vault) -> Result<bool, CoreError> {
    Ok(vault.sync_meta_i64(FULL_PULL)? == Some(1))
}

/// Records that the pull from the start reached the end of the feed.
pub fn full_pull_done(vault: &Vault) -> Result<(), CoreError> {
    vault.set_sync_meta_i64(FULL_PULL, 0)
}

#[cfg(test)]
mod tests {
    use ward_proto::people::{AccessVia, ClientAccess};

    use super::*;

    fn team(ids: &[ObjectId]) -> MyClients {
        MyClients {
            erased: Vec::new(),
            all: false,
            clients: ids
                .iter()
                .map(|c| ClientAccess {
                    key: None,
                    client_id: *c,
                    via: AccessVia::Team,
                    expires_at_ms: None,
                })
                .collect(),
        }
    }

    fn all() -> MyClients {
        MyClients {
            erased: Vec::new(),
            all: true,
            clients: Vec::new(),
        }
    }

    fn held(synced: &[ObjectId], from_start: &[ObjectId]) -> HeldClients {
        HeldClients {
            synced: synced.to_vec(),
            from_start: from_start.to_vec(),
        }
    }

    fn ids<const N: usize>() -> [ObjectId; N] {
        std::array::from_fn(|_| ObjectId::random())
    }

    #[test]
    fn a_removed_client_is_dropped_without_a_repull() {
        let [a, b] = ids();
        let change = access_change(Some(&team(&[a, b])), &team(&[a]), &held(&[a, b], &[a, b]));
        assert_eq!(
            change,
            AccessChange {
                drop: vec![b],
                repull: false
            }
        );
    }

    #[test]
    fn an_added_client_the_device_never_held_asks_for_a_repull() {
        let [a, b] = ids();
        let change = access_change(Some(&team(&[a])), &team(&[a, b]), &held(&[a], &[a]));
        assert_eq!(
            change,
            AccessChange {
                drop: vec![],
                repull: true
            }
        );
    }

    #[test]
    fn an_added_client_partly_pulled_still_asks_for_a_repull() {
        // Added before this pull: its versions after the cursor came in, its record did not.
        let [a, b] = ids();
        let change = access_change(Some(&team(&[a])), &team(&[a, b]), &held(&[a, b], &[a]));
        assert!(change.repull && change.drop.is_empty());
    }

    #[test]
    fn a_client_created_here_needs_no_repull() {
        // The server put its creator on the team when the push stored it.
        let [a, mine] = ids();
        let change = access_change(
            Some(&team(&[a])),
            &team(&[a, mine]),
            &held(&[a, mine], &[a, mine]),
        );
        assert_eq!(change, AccessChange::default());
    }

    #[test]
    fn a_dropped_then_readded_client_asks_for_a_repull() {
        // Dropped earlier (only unsynced work kept, its record gone), now back on the team.
        let [a, b] = ids();
        let change = access_change(Some(&team(&[a])), &team(&[a, b]), &held(&[a], &[a]));
        assert!(change.repull);
    }

    #[test]
    fn a_swap_drops_one_and_repulls_for_the_other() {
        let [a, b, c] = ids();
        let change = access_change(
            Some(&team(&[a, b])),
            &team(&[a, c]),
            &held(&[a, b], &[a, b]),
        );
        assert_eq!(
            change,
            AccessChange {
                drop: vec![b],
                repull: true
            }
        );
    }

    #[test]
    fn an_ended_break_glass_is_dropped() {
        let [a, b] = ids();
        let mut old = team(&[a]);
        old.clients.push(ClientAccess {
            key: None,
            client_id: b,
            via: AccessVia::BreakGlass,
            expires_at_ms: Some(5),
        });
        let change = access_change(Some(&old), &team(&[a]), &held(&[a, b], &[a, b]));
        assert_eq!(change.drop, vec![b]);
        assert!(!change.repull);
    }

    #[test]
    fn all_drops_nothing_and_repulls_only_when_it_is_new() {
        let [a, b] = ids();
        let h = held(&[a, b], &[a, b]);
        assert_eq!(
            access_change(Some(&team(&[a])), &all(), &h),
            AccessChange {
                drop: vec![],
                repull: true
            }
        );
        assert_eq!(
            access_change(Some(&all()), &all(), &h),
            AccessChange::default()
        );
        assert_eq!(access_change(None, &all(), &h), AccessChange::default());
        // From everything to a team: drop the rest, nothing to pull again.
        assert_eq!(
            access_change(Some(&all()), &team(&[a]), &h),
            AccessChange {
                drop: vec![b],
                repull: false
            }
        );
    }

    #[test]
    fn without_a_stored_access_what_is_held_from_the_start_stands_for_it() {
        let [a, b, c] = ids();
        // Enrolled before access tags: holds a and b whole; c was added and never pulled.
        let h = held(&[a, b], &[a, b]);
        assert_eq!(
            access_change(None, &team(&[a, b]), &h),
            AccessChange::default()
        );
        assert_eq!(
            access_change(None, &team(&[a, c]), &h),
            AccessChange {
                drop: vec![b],
                repull: true
            }
        );
    }

    #[test]
    fn a_client_held_only_through_unsynced_work_is_not_dropped() {
        // Not in `synced`: a drop would keep everything anyway.
        let [a, local] = ids();
        let change = access_change(Some(&team(&[a])), &team(&[a]), &held(&[a], &[a, local]));
        assert_eq!(change, AccessChange::default());
    }
}
