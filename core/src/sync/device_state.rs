//! Device state the app shows and enforces without the network: the offline lease (a phone
//! that has not reached the server for longer than the clinic allows wipes itself at the next
//! start, after warning the user), and the "not synced" alarm for work that has waited too long.

use super::client::ApiClient;
use super::meta::LAST_CONTACT_MS;
use crate::error::CoreError;
use crate::vault::Vault;
use crate::vault::outbox::Unsynced;

const HOUR_MS: i64 = 3600 * 1000;

/// Where the device stands with its offline lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LeaseState {
    /// The clinic sets no lease, or the device is not enrolled yet.
    NoLease,
    /// Within the lease.
    Valid {
        /// When it runs out unless the device reaches the server.
        expires_at_ms: i64,
    },
    /// Within the warning window: tell the user to connect.
    Warning {
        /// When it runs out.
        expires_at_ms: i64,
    },
    /// Run out: the vault must be wiped.
    Expired,
}

/// The lease state now, judged by the vault's time floor (the latest time the phone has
/// evidence of: wall clocks read, server `Date`s, signed timestamps), so setting the phone's
/// date back does not extend it.
pub fn lease(vault: &Vault) -> Result<LeaseState, CoreError> {
    let policy = vault.policy();
    let Some(last) = vault.sync_meta_i64(LAST_CONTACT_MS)? else {
        return Ok(LeaseState::NoLease);
    };
    if policy.offline_lease_hours == 0 {
        return Ok(LeaseState::NoLease);
    }
    let expires_at_ms = last + i64::from(policy.offline_lease_hours) * HOUR_MS;
    let now = vault.trusted_now_ms()?;
    Ok(if now >= expires_at_ms {
        LeaseState::Expired
    } else if now >= expires_at_ms - i64::from(policy.lease_warning_hours) * HOUR_MS {
        LeaseState::Warning { expires_at_ms }
    } else {
        LeaseState::Valid { expires_at_ms }
    })
}

/// Records a successful contact with the server: at the server's time (its `Date`) when it
/// sent one, else the device's best time; and saves the time floor it raised.
pub fn record_contact(vault: &Vault, api: &ApiClient) -> Result<(), CoreError> {
    let best = vault.trusted_now_ms()?;
    let at = api.server_time_ms().unwrap_or(best);
    vault.set_sync_meta_i64(LAST_CONTACT_MS, at)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "3 notes and 1 photo not synced for 2 days", once the oldest unsynced work is older than
/// the policy's alarm threshold.
pub fn unsynced_alarm(u: &Unsynced, now_ms: i64, threshold_hours: u32) -> Option<String> {
    let oldest = u.oldest_at_ms?;
    let age = now_ms - oldest;
    if threshold_hours == 0 || age < i64::from(threshold_hours) * HOUR_MS {
        return None;
    }
    let mut what = Vec::new();
    if u.notes > 0 {
        what.push(plural(u.notes, "note", "notes"));
    }
    if u.photos > 0 {
        what.push(plural(u.photos, "photo", "photos"));
    }
    if u.clients > 0 {
        what.push(plural(u.clients, "client record", "client records"));
    }
    if u.other > 0 {
        what.push(plural(u.other, "other change", "other changes"));
    }
    let hours = age / HOUR_MS;
    let since = if hours >= 48 {
        plural((hours / 24) as u64, "day", "days")
    } else {
        plural(hours as u64, "hour", "hours")
    };
    Some(format!("{} not synced for {since}", what.join(" and ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_names_counts_and_age() {
        let u = Unsynced {
            notes: 3,
            photos: 1,
            oldest_at_ms: Some(0),
            ..Unsynced::default()
        };
        assert_eq!(unsynced_alarm(&u, 23 * HOUR_MS, 24), None);
        assert_eq!(
            unsynced_alarm(&u, 50 * HOUR_MS, 24).as_deref(),
            Some("3 notes and 1 photo not synced for 2 days")
        );
        assert_eq!(
            unsynced_alarm(&u, 30 * HOUR_MS, 24).as_deref(),
            Some("3 notes and 1 photo not synced for 30 hours")
        );
        assert_eq!(unsynced_alarm(&Unsynced::default(), 99 * HOUR_MS, 24), None);
    }
}
