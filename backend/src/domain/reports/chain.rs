//! Device audit-chain upload: each segment must continue the device's last accepted (seq,
//! hash); every event is stored, with gaps, breaks, events of another device or user and
//! rewritten history flagged (and a server `audit.chain_gap` / `audit.chain_break` entry)
//! instead of dropped.

use std::collections::HashMap;

use ward_proto::DeviceId;
use ward_proto::audit::{
    AuditEvent, AuditUpload, AuditUploadResult, ChainFlag, FlaggedEvent, GENESIS,
    MAX_UPLOAD_EVENTS, hex_lower,
};
use ward_proto::errors::ErrorCode;

use crate::domain::{Caller, DomainError, DomainResult, Env};
use crate::model::{AuditEntry, AuditRecord, AuditSource, ChainInfo, ChainLink};
use crate::store::ChainEntry;

/// A short token of `[A-Za-z0-9._:-]` (actions, actors, filters).
pub fn valid_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// What verification decided for one upload attempt.
#[derive(Debug, Default)]
struct Plan {
    store: Vec<(ChainEntry, Option<FlaggedEvent>)>,
    duplicates: u32,
    forks: Vec<(FlaggedEvent, AuditEntry)>,
}

fn flag_entry(caller_actor: &str, device: DeviceId, now: i64, flag: &FlaggedEvent) -> AuditEntry {
    let action = match flag.flag {
        ChainFlag::Gap | ChainFlag::Late => "audit.chain_gap",
        ChainFlag::Break | ChainFlag::Foreign | ChainFlag::Fork => "audit.chain_break",
    };
    AuditEntry::from(AuditRecord {
        at_ms: now,
        actor: caller_actor.to_string(),
        device_id: Some(device),
        action: action.into(),
        target: Some(format!(
            "device {device} seq {}: {} ({})",
            flag.seq,
            flag.flag.as_str(),
            flag.detail
        )),
    })
}

/// Checks `events` against the device's accepted chain (`head`, and `existing` links for
/// re-sent seqs) and decides what to store. Pure, so every branch is unit-tested.
fn plan(
    device: DeviceId,
    actor: &str,
    now: i64,
    head: Option<&ChainLink>,
    existing: &HashMap<u64, ChainLink>,
    events: &[(AuditEvent, [u8; 32])],
) -> Plan {
    let head_seq = head.map_or(0, |h| h.seq);
    let (mut cur_seq, mut cur_hash) = head.map_or((0, GENESIS), |h| (h.seq, h.hash));
    let mut out = Plan::default();
    for (e, h) in events {
        let mut flag: Option<(ChainFlag, String)> = None;
        if e.seq <= head_seq {
            match existing.get(&e.seq) {
                Some(link) if &link.hash == h => {
                    out.duplicates += 1;
                    continue;
                }
                Some(link) => {
                    let f = FlaggedEvent {
                        seq: e.seq,
                        flag: ChainFlag::Fork,
                        detail: format!(
                            "accepted with hash {}, re-sent with {}",
                            hex_lower(&link.hash),
                            hex_lower(h)
                        ),
                    };
                    let entry = flag_entry(actor, device, now, &f);
                    out.forks.push((f, entry));
                    continue;
                }
                None => {
                    flag = Some((ChainFlag::Late, format!("fills a gap below seq {head_seq}")));
                }
            }
        } else if e.device != device || !(e.actor == actor || e.actor.is_empty()) {
            flag = Some((
                ChainFlag::Foreign,
                format!("event names device {} and actor {}", e.device, e.actor),
            ));
        } else if e.seq != cur_seq + 1 {
            flag = Some((ChainFlag::Gap, format!("expected seq {}", cur_seq + 1)));
        } else if e.chain_hash(&cur_hash) != *h {
            flag = Some((
                ChainFlag::Break,
                format!("hash does not follow from seq {cur_seq}"),
            ));
        }
        let flagged = flag.map(|(flag, detail)| FlaggedEvent {
            seq: e.seq,
            flag,
            detail,
        });
        let mut entries = vec![AuditEntry {
            record: AuditRecord {
                at_ms: e.at_ms,
                actor: e.actor.clone(),
                device_id: Some(device),
                action: e.action.clone(),
                target: e.object.map(|o| o.to_string()),
            },
            client: e.client,
            count: None,
            source: AuditSource::Device,
            chain: Some(ChainInfo {
                seq: e.seq,
                hash: hex_lower(h),
                kind: e.kind,
                flag: flagged.as_ref().map(|f| f.flag),
                received_at_ms: now,
            }),
        }];
        if let Some(f) = &flagged {
            entries.push(flag_entry(actor, device, now, f));
        }
        if e.seq > cur_seq {
            (cur_seq, cur_hash) = (e.seq, *h);
        }
        out.store.push((
            ChainEntry {
                link: ChainLink {
                    seq: e.seq,
                    hash: *h,
                    flag: flagged.as_ref().map(|f| f.flag),
                },
                entries,
            },
            flagged,
        ));
    }
    out
}

/// Stores a segment of the caller's device audit chain, verified against what was accepted
/// before; flagged events are stored too (never dropped), with a server alert entry.
pub async fn upload(
    env: Env<'_>,
    caller: &Caller,
    req: AuditUpload,
) -> DomainResult<AuditUploadResult> {
    let tenant = caller.tenant;
    if req.events.len() > MAX_UPLOAD_EVENTS {
        return Err(DomainError::invalid(
            ErrorCode::TooManyEvents,
            format!("at most {MAX_UPLOAD_EVENTS} events per upload"),
        ));
    }
    let mut events = Vec::with_capacity(req.events.len());
    let mut prev = 0u64;
    for u in req.events {
        let hash = u.hash_bytes().ok_or_else(|| {
            DomainError::invalid(ErrorCode::BadEvent, "hash must be 64 hex digits")
        })?;
        let e = u.event;
        if e.seq == 0 || e.seq <= prev {
            return Err(DomainError::invalid(
                ErrorCode::BadEvent,
                "events must have seq >= 1, in strictly increasing order",
            ));
        }
        // An empty actor: recorded before anyone signed in on the device (vault creation).
        if !valid_token(&e.action, 64) || !(e.actor.is_empty() || valid_token(&e.actor, 128)) {
            return Err(DomainError::invalid(
                ErrorCode::BadEvent,
                "action and actor must be 1-64 / 0-128 characters of [A-Za-z0-9._:-]",
            ));
        }
        prev = e.seq;
        events.push((e, hash));
    }
    let device = caller.device.device_id;
    let actor = caller.actor();
    let (mut accepted, mut carried): (u32, u32) = (0, 0);
    let mut flagged = Vec::new();
    for _ in 0..4 {
        let head = env.stores.audit.chain_head(tenant, device).await?;
        let head_seq = head.as_ref().map_or(0, |h| h.seq);
        let existing: HashMap<u64, ChainLink> = match events.first() {
            Some((first, _)) if first.seq <= head_seq => {
                let last = events
                    .last()
                    .map_or(first.seq, |(e, _)| e.seq)
                    .min(head_seq);
                env.stores
                    .audit
                    .chain_links(tenant, device, first.seq, last)
                    .await?
                    .into_iter()
                    .map(|l| (l.seq, l))
                    .collect()
            }
            _ => HashMap::new(),
        };
        let p = plan(device, &actor, env.now(), head.as_ref(), &existing, &events);
        let want = p.store.len();
        let entries: Vec<ChainEntry> = p.store.iter().map(|(c, _)| c.clone()).collect();
        let stored = if entries.is_empty() {
            0
        } else {
            env.stores
                .audit
                .append_chain(tenant, device, &entries)
                .await?
        };
        accepted += stored as u32;
        flagged.extend(p.store.iter().take(stored).filter_map(|(_, f)| f.clone()));
        if stored < want {
            // Another upload from this device stored some of these seqs first: what this one
            // stored becomes "duplicate" on the next look, so carry it.
            carried += stored as u32;
            continue;
        }
        let forks: Vec<AuditEntry> = p.forks.iter().map(|(_, e)| e.clone()).collect();
        flagged.extend(p.forks.into_iter().map(|(f, _)| f));
        if !forks.is_empty() {
            env.stores.audit.append_entries(tenant, &forks).await?;
        }
        if !flagged.is_empty() {
            tracing::warn!(%tenant, %device, flagged = flagged.len(), "device audit chain flagged");
        }
        let head_seq = env
            .stores
            .audit
            .chain_head(tenant, device)
            .await?
            .map_or(0, |h| h.seq);
        return Ok(AuditUploadResult {
            accepted,
            duplicates: p.duplicates.saturating_sub(carried),
            flagged,
            head_seq,
        });
    }
    Err(DomainError::conflict(
        ErrorCode::Busy,
        "audit upload kept racing another upload from this device; retry",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_proto::ObjectId;

    fn chain(device: DeviceId, actor: &str, n: u64) -> Vec<(AuditEvent, [u8; 32])> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = AuditEvent {
                    seq,
                    at_ms: 1000 + seq as i64,
                    actor: actor.into(),
                    device,
                    action: "view".into(),
                    kind: Some(2),
                    object: Some(ObjectId::random()),
                    client: Some(ObjectId::random()),
                };
                prev = e.chain_hash(&prev);
                (e, prev)
            })
            .collect()
    }

    fn flags(p: &Plan) -> Vec<(u64, Option<ChainFlag>)> {
        p.store
            .iter()
            .map(|(c, _)| (c.link.seq, c.link.flag))
            .collect()
    }

    #[test]
    fn plan_accepts_continues_and_flags() {
        let d = DeviceId::random();
        let c = chain(d, "u1", 6);
        let none = HashMap::new();
        // A clean chain from genesis: all stored, none flagged.
        let p = plan(d, "u1", 5, None, &none, &c[..3]);
        assert_eq!(flags(&p), vec![(1, None), (2, None), (3, None)]);
        assert!(p.store.iter().all(|(c, _)| c.entries.len() == 1));
        // Continuing from the head.
        let head = ChainLink {
            seq: 3,
            hash: c[2].1,
            flag: None,
        };
        let p = plan(d, "u1", 5, Some(&head), &none, &c[3..]);
        assert_eq!(flags(&p), vec![(4, None), (5, None), (6, None)]);
        // A gap: seq 5 after head 3.
        let p = plan(d, "u1", 5, Some(&head), &none, &c[4..]);
        assert_eq!(flags(&p), vec![(5, Some(ChainFlag::Gap)), (6, None)]);
        assert_eq!(p.store[0].0.entries[1].record.action, "audit.chain_gap");
        // An edited event breaks the chain at that event only.
        let mut edited = c.clone();
        edited[3].0.action = "export".into();
        let p = plan(d, "u1", 5, Some(&head), &none, &edited[3..]);
        assert_eq!(
            flags(&p),
            vec![(4, Some(ChainFlag::Break)), (5, None), (6, None)]
        );
        assert_eq!(p.store[0].0.entries[1].record.action, "audit.chain_break");
        // Another user's or device's events.
        let p = plan(d, "u2", 5, None, &none, &c[..1]);
        assert_eq!(flags(&p), vec![(1, Some(ChainFlag::Foreign))]);
        let p = plan(DeviceId::random(), "u1", 5, None, &none, &c[..1]);
        assert_eq!(flags(&p), vec![(1, Some(ChainFlag::Foreign))]);
    }

    #[test]
    fn plan_dedups_and_detects_rewritten_history() {
        let d = DeviceId::random();
        let c = chain(d, "u1", 3);
        let head = ChainLink {
            seq: 3,
            hash: c[2].1,
            flag: None,
        };
        let existing: HashMap<u64, ChainLink> = c
            .iter()
            .take(2)
            .map(|(e, h)| {
                (
                    e.seq,
                    ChainLink {
                        seq: e.seq,
                        hash: *h,
                        flag: None,
                    },
                )
            })
            .collect();
        // Seq 1 and 2 again: duplicates. Seq 3's link is unknown here: a late arrival.
        let p = plan(d, "u1", 5, Some(&head), &existing, &c);
        assert_eq!(p.duplicates, 2);
        assert_eq!(flags(&p), vec![(3, Some(ChainFlag::Late))]);
        // A different event at an accepted seq: a fork, recorded but not stored.
        let mut other = c.clone();
        other[0].1 = [7; 32];
        let p = plan(d, "u1", 5, Some(&head), &existing, &other[..1]);
        assert!(p.store.is_empty());
        assert_eq!(p.forks.len(), 1);
        assert_eq!(p.forks[0].0.flag, ChainFlag::Fork);
        assert_eq!(p.forks[0].1.record.action, "audit.chain_break");
    }
}
