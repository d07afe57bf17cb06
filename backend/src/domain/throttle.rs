//! Rate limits on the unauthenticated passkey ceremonies, shaped so that a stranger cannot lock
//! a clinic out.
//!
//! Each attempt draws on a few budgets ([`ceremony_budgets`]), never on one shared by the whole
//! tenant:
//!
//! - **per person**: a known user's logins (10 a minute), a valid invite's enrollments;
//! - **per source address**: 60 ceremony calls a minute from one address;
//! - **strangers**: calls naming a user or invite the clinic does not have share one budget per
//!   tenant (30 a minute), which no real person ever draws on — junk with random user ids
//!   exhausts only that;
//! - **admins**: an admin's login draws only on a budget of its own per (admin, address), so
//!   neither strangers nor a busy shared address can spend it.
//!
//! A budget that overflows blocks for a minute, then doubles with every further overflow (up to
//! 15 minutes; forgotten after 15 quiet minutes). The refusal carries the wait
//! ([`DomainError::RateLimited`], answered `429` with `Retry-After`). Counts are per process: on
//! Lambda each warm instance counts separately, and API Gateway's per-route throttling (set in
//! the infrastructure template) backs them up.

use std::collections::HashMap;
use std::sync::Mutex;

use ward_proto::TenantId;
use ward_proto::api::Role;

use super::{DomainError, DomainResult, Env};

const WINDOW_MS: i64 = 60_000;
const MAX_BLOCK_MS: i64 = 15 * 60_000;
const FORGET_MS: i64 = 15 * 60_000;
/// Logins (start + finish) per known person per minute.
pub const PER_USER: u32 = 10;
/// Ceremony calls per source address per minute.
pub const PER_ADDRESS: u32 = 60;
/// Calls naming an unknown user or invite, per tenant per minute.
pub const STRANGERS: u32 = 30;

/// One budget an attempt draws on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    key: String,
    per_minute: u32,
}

impl Budget {
    fn new(key: String, per_minute: u32) -> Self {
        Self { key, per_minute }
    }
}

#[derive(Debug, Default)]
struct Bucket {
    window_start: i64,
    count: u32,
    strikes: u32,
    blocked_until: i64,
    last_strike_ms: i64,
}

/// The counters (in memory, per process).
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Throttle {
    /// Draws one attempt from every budget, or refuses with the time to wait. A refused attempt
    /// draws nothing (waiting it out is enough).
    pub fn take(&self, budgets: &[Budget], now: i64) -> DomainResult<()> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, b| now - b.window_start < FORGET_MS || b.blocked_until > now);
        }
        let blocked = budgets
            .iter()
            .filter_map(|b| map.get(&b.key))
            .map(|b| b.blocked_until - now)
            .max()
            .unwrap_or(0);
        if blocked > 0 {
            return Err(limited(blocked));
        }
        let mut wait = 0i64;
        for budget in budgets {
            let b = map.entry(budget.key.clone()).or_default();
            if now - b.window_start >= WINDOW_MS {
                b.window_start = now;
                b.count = 0;
            }
            if b.strikes > 0 && now - b.last_strike_ms >= FORGET_MS {
                b.strikes = 0;
            }
            b.count += 1;
            if b.count > budget.per_minute {
                b.strikes += 1;
                b.last_strike_ms = now;
                let exp = b.strikes.saturating_sub(1).min(8);
                let block = (WINDOW_MS << exp).min(MAX_BLOCK_MS);
                b.blocked_until = now + block;
                b.count = 0;
                b.window_start = now;
                wait = wait.max(block);
            }
        }
        if wait > 0 {
            return Err(limited(wait));
        }
        Ok(())
    }
}

fn limited(ms: i64) -> DomainError {
    DomainError::RateLimited {
        retry_after_s: u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1),
    }
}

/// What an unauthenticated ceremony call names.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// `login/start` for this user id.
    LoginStart(uuid::Uuid),
    /// `login/finish` (the ceremony it finishes was counted at its start).
    LoginFinish,
    /// `enroll/start` or `enroll/finish` with this invite code's hash.
    Enroll(&'a str),
    /// `step-up/start` by this (authenticated) user.
    StepUp(uuid::Uuid),
}

/// The budgets `attempt` from `source` (the caller's address, when known) draws on.
pub async fn ceremony_budgets(
    env: Env<'_>,
    tenant: TenantId,
    attempt: Attempt<'_>,
    source: Option<&str>,
) -> DomainResult<Vec<Budget>> {
    let addr = source.unwrap_or("unknown");
    let per_address = Budget::new(format!("addr:{addr}"), PER_ADDRESS);
    let strangers = Budget::new(format!("strangers:{tenant}"), STRANGERS);
    Ok(match attempt {
        Attempt::LoginStart(user) => match env.stores.identity.get_user(tenant, user).await? {
            Some(u) if u.role == Role::Admin => {
                vec![Budget::new(
                    format!("admin:{tenant}:{user}:{addr}"),
                    PER_USER,
                )]
            }
            Some(_) => vec![
                Budget::new(format!("user:{tenant}:{user}"), PER_USER),
                per_address,
            ],
            None => vec![strangers, per_address],
        },
        Attempt::LoginFinish => vec![per_address],
        Attempt::StepUp(user) => vec![Budget::new(format!("stepup:{tenant}:{user}"), PER_USER)],
        Attempt::Enroll(hash) => match env.stores.identity.get_invite(tenant, hash).await? {
            Some(i) if i.expires_at_ms > env.now() => vec![
                Budget::new(format!("invite:{tenant}:{hash}"), PER_USER),
                per_address,
            ],
            _ => vec![strangers, per_address],
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn retry(r: DomainResult<()>) -> u64 {
        match r {
            Err(DomainError::RateLimited { retry_after_s }) => retry_after_s,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_overflow_blocks_then_backs_off_exponentially() {
        let t = Throttle::default();
        let b = [Budget::new("k".into(), 3)];
        for _ in 0..3 {
            t.take(&b, 0).unwrap();
        }
        assert_eq!(retry(t.take(&b, 0)), 60);
        // Blocked: refused with the remaining wait, drawing nothing.
        assert_eq!(retry(t.take(&b, 30_000)), 30);
        // After the block, a fresh budget; a second overflow blocks twice as long.
        for _ in 0..3 {
            t.take(&b, 60_000).unwrap();
        }
        assert_eq!(retry(t.take(&b, 60_000)), 120);
        for _ in 0..3 {
            t.take(&b, 180_000).unwrap();
        }
        assert_eq!(retry(t.take(&b, 180_000)), 240);
        // Quiet for 15 minutes: forgiven.
        let later = 180_000 + 240_000 + FORGET_MS;
        for _ in 0..3 {
            t.take(&b, later).unwrap();
        }
        assert_eq!(retry(t.take(&b, later)), 60);
    }

    #[test]
    fn the_block_is_capped_and_other_budgets_are_untouched() {
        let t = Throttle::default();
        let junk = [Budget::new("junk".into(), 1)];
        let mut now = 0;
        for _ in 0..20 {
            t.take(&junk, now).ok();
            let wait = match t.take(&junk, now) {
                Err(DomainError::RateLimited { retry_after_s }) => retry_after_s,
                _ => 0,
            };
            assert!(wait <= 15 * 60);
            now += i64::try_from(wait).unwrap() * 1000;
        }
        t.take(&[Budget::new("admin".into(), 1)], now).unwrap();
    }
}
