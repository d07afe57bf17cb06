//! Audit views, device audit-chain upload, and the breach-scope report (DESIGN property 8).
//!
//! Devices upload segments of their hash-chained audit log; the backend checks that each
//! segment continues the device's last accepted (seq, hash) and stores every event, flagging
//! gaps, breaks, events of another device or user, and rewritten history (with a server
//! `audit.chain_gap` / `audit.chain_break` entry) instead of dropping any. Admins query the log
//! (server and device events, filters, cursor pagination, JSON or CSV) and get, per device, the
//! breach-scope report: every client whose data was delivered to it or created on it and when,
//! its last contact and last reported unlock, and its wipe status and receipt. Every view is
//! itself audited. The sync handlers record deliveries per client with [`client_entry`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ward_proto::audit::{
    AuditEvent, AuditUpload, AuditUploadResult, ChainFlag, FlaggedEvent, GENESIS,
    MAX_UPLOAD_EVENTS, hex_lower,
};
use ward_proto::{DeviceId, ObjectId, TenantId};

use super::auth::Caller;
use super::{AppState, parse_body, path_id};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    AuditEntry, AuditRecord, AuditSource, ChainInfo, ChainLink, Device, DeviceStatus, Role,
};
use crate::store::{AuditQuery, ChainEntry};

/// Delivery of a client's record versions to a device (a pull page), `count` versions.
pub const CLIENT_DELIVER: &str = "client.deliver";
/// Versions of a client's records created on a device and stored (a push), `count` versions.
pub const CLIENT_CREATE: &str = "client.create";
/// A photo of a client handed to a device (download URL issued).
pub const PHOTO_DOWNLOAD: &str = "photo.download";
/// A photo of a client uploaded from a device.
pub const PHOTO_UPLOAD: &str = "photo.upload";
/// Default page size of the audit view.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Largest page of the audit view.
pub const MAX_AUDIT_LIMIT: u32 = 1000;
/// Most store pages a breach-scope report reads (each up to `MAX_AUDIT_LIMIT` entries).
pub const MAX_BREACH_PAGES: usize = 1000;

/// An audit entry for `caller` (who, which device, when).
pub fn entry(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: Option<String>,
) -> AuditEntry {
    AuditEntry::from(AuditRecord {
        at_ms: state.now(),
        actor: caller.actor(),
        device_id: Some(caller.device.device_id),
        action: action.into(),
        target,
    })
}

/// An audit entry saying `count` items of `client`'s data went to or came from the caller's
/// device (`action`: [`CLIENT_DELIVER`], [`CLIENT_CREATE`], [`PHOTO_DOWNLOAD`], …).
pub fn client_entry(
    state: &AppState,
    caller: &Caller,
    action: &str,
    client: ObjectId,
    target: Option<String>,
    count: u64,
) -> AuditEntry {
    let mut e = entry(
        state,
        caller,
        action,
        target.or_else(|| Some(client.to_string())),
    );
    e.client = Some(client);
    e.count = Some(count);
    e
}

/// One entry per client for `counts` (client → versions), in one batched store call.
pub async fn audit_clients(
    state: &AppState,
    caller: &Caller,
    action: &str,
    counts: &BTreeMap<ObjectId, u64>,
    mut extra: Vec<AuditEntry>,
) -> ApiResult<()> {
    extra.extend(
        counts
            .iter()
            .map(|(c, n)| client_entry(state, caller, action, *c, None, *n)),
    );
    Ok(state
        .stores
        .audit
        .append_entries(caller.tenant, &extra)
        .await?)
}

use super::auth::authed_active;

// ------------------------------------------------------------------ chain upload

fn valid_token(s: &str, max: usize) -> bool {
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

/// `POST /v1/tenants/{tenant}/audit/events` (any active device)
pub async fn upload_events(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<AuditUploadResult>> {
    let (tenant, caller, body) =
        authed_active(&state, &tenant, &method, &uri, &headers, body).await?;
    let req: AuditUpload = parse_body(Ok(body))?;
    if req.events.len() > MAX_UPLOAD_EVENTS {
        return Err(ApiError::bad_request(
            "too_many_events",
            format!("at most {MAX_UPLOAD_EVENTS} events per upload"),
        ));
    }
    let mut events = Vec::with_capacity(req.events.len());
    let mut prev = 0u64;
    for u in req.events {
        let hash = u
            .hash_bytes()
            .ok_or_else(|| ApiError::bad_request("bad_event", "hash must be 64 hex digits"))?;
        let e = u.event;
        if e.seq == 0 || e.seq <= prev {
            return Err(ApiError::bad_request(
                "bad_event",
                "events must have seq >= 1, in strictly increasing order",
            ));
        }
        // An empty actor: recorded before anyone signed in on the device (vault creation).
        if !valid_token(&e.action, 64) || !(e.actor.is_empty() || valid_token(&e.actor, 128)) {
            return Err(ApiError::bad_request(
                "bad_event",
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
        let head = state.stores.audit.chain_head(tenant, device).await?;
        let head_seq = head.as_ref().map_or(0, |h| h.seq);
        let existing: HashMap<u64, ChainLink> = match events.first() {
            Some((first, _)) if first.seq <= head_seq => {
                let last = events
                    .last()
                    .map_or(first.seq, |(e, _)| e.seq)
                    .min(head_seq);
                state
                    .stores
                    .audit
                    .chain_links(tenant, device, first.seq, last)
                    .await?
                    .into_iter()
                    .map(|l| (l.seq, l))
                    .collect()
            }
            _ => HashMap::new(),
        };
        let p = plan(
            device,
            &actor,
            state.now(),
            head.as_ref(),
            &existing,
            &events,
        );
        let want = p.store.len();
        let entries: Vec<ChainEntry> = p.store.iter().map(|(c, _)| c.clone()).collect();
        let stored = if entries.is_empty() {
            0
        } else {
            state
                .stores
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
            state.stores.audit.append_entries(tenant, &forks).await?;
        }
        if !flagged.is_empty() {
            tracing::warn!(%tenant, %device, flagged = flagged.len(), "device audit chain flagged");
        }
        let head_seq = state
            .stores
            .audit
            .chain_head(tenant, device)
            .await?
            .map_or(0, |h| h.seq);
        return Ok(Json(AuditUploadResult {
            accepted,
            duplicates: p.duplicates.saturating_sub(carried),
            flagged,
            head_seq,
        }));
    }
    Err(ApiError::conflict(
        "busy",
        "audit upload kept racing another upload from this device; retry",
    ))
}

// ------------------------------------------------------------------ audit view

/// One entry of the audit view.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditItem {
    /// Its position (pass as `after` to continue past it).
    pub cursor: String,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// A page of the audit view.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditList {
    /// Entries, newest first unless `order=asc`.
    pub entries: Vec<AuditItem>,
    /// Cursor of the next page (`after=`), or null at the end of the log.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_query", message)
}

/// Query parameters, each at most once, only from `allowed`.
fn query_params(query: &Option<String>, allowed: &[&str]) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let Some(q) = query else { return Ok(out) };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(bad_query(format!(
                "unknown parameter {k:?}; expected one of {}",
                allowed.join(", ")
            )));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(bad_query(format!("parameter {k:?} given twice")));
        }
    }
    Ok(out)
}

fn parse_param<T: std::str::FromStr>(
    p: &HashMap<String, String>,
    name: &str,
    what: &str,
) -> ApiResult<Option<T>> {
    p.get(name)
        .map(|v| {
            v.parse()
                .map_err(|_| bad_query(format!("{name} must be {what}")))
        })
        .transpose()
}

fn format_param(p: &HashMap<String, String>) -> ApiResult<Format> {
    match p.get("format").map(String::as_str) {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(bad_query("format must be json or csv")),
    }
}

fn audit_query(p: &HashMap<String, String>) -> ApiResult<AuditQuery> {
    let text = |name: &str, max: usize| -> ApiResult<Option<String>> {
        match p.get(name) {
            Some(v) if !valid_token(v, max) => Err(bad_query(format!(
                "{name} must be 1-{max} characters of [A-Za-z0-9._:-]"
            ))),
            v => Ok(v.cloned()),
        }
    };
    let limit: u32 = parse_param(p, "limit", "an integer 1-1000")?.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(bad_query(format!("limit must be 1-{MAX_AUDIT_LIMIT}")));
    }
    let after = match p.get("after") {
        Some(a)
            if a.is_empty()
                || a.len() > 64
                || !a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'#') =>
        {
            return Err(bad_query("after must be a cursor from an earlier page"));
        }
        a => a.cloned(),
    };
    let oldest_first = match p.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(bad_query("order must be asc or desc")),
    };
    Ok(AuditQuery {
        device: parse_param(p, "device", "a device id")?,
        actor: text("actor", 128)?,
        action: text("action", 64)?,
        client: parse_param(p, "client", "a client id")?,
        since_ms: parse_param(p, "since", "a time in ms since the epoch")?,
        until_ms: parse_param(p, "until", "a time in ms since the epoch")?,
        after,
        limit,
        oldest_first,
    })
}

/// UTC ISO 8601 of a time in ms (days-from-civil inverse, proleptic Gregorian).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes
/// doubled; text that a spreadsheet would run as a formula gets a leading `'`.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_row(out: &mut String, fields: &[String]) {
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn csv_response(body: String, filename: &str, next: Option<&str>) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(n).ok()) {
        resp.headers_mut().insert("x-ward-next", n);
    }
    resp
}

/// Header of the audit CSV export.
pub const AUDIT_CSV_HEADER: [&str; 14] = [
    "cursor",
    "at",
    "at_ms",
    "source",
    "actor",
    "device_id",
    "action",
    "target",
    "client_id",
    "count",
    "chain_seq",
    "chain_flag",
    "chain_hash",
    "received_at_ms",
];

fn audit_csv(list: &AuditList) -> String {
    let mut out = String::new();
    csv_row(&mut out, &AUDIT_CSV_HEADER.map(String::from));
    for i in &list.entries {
        let (e, r) = (&i.entry, &i.entry.record);
        let chain = e.chain.as_ref();
        csv_row(
            &mut out,
            &[
                i.cursor.clone(),
                iso8601(r.at_ms),
                r.at_ms.to_string(),
                match e.source {
                    AuditSource::Server => "server".into(),
                    AuditSource::Device => "device".into(),
                },
                r.actor.clone(),
                opt(r.device_id),
                r.action.clone(),
                r.target.clone().unwrap_or_default(),
                opt(e.client),
                opt(e.count),
                opt(chain.map(|c| c.seq)),
                opt(chain.and_then(|c| c.flag).map(|f| f.as_str())),
                opt(chain.map(|c| c.hash.clone())),
                opt(chain.map(|c| c.received_at_ms)),
            ],
        );
    }
    out
}

fn describe(q: &AuditQuery, format: Format) -> String {
    let mut s = format!(
        "format={}",
        if format == Format::Csv { "csv" } else { "json" }
    );
    if let Some(d) = q.device {
        let _ = write!(s, " device={d}");
    }
    if let Some(a) = &q.actor {
        let _ = write!(s, " actor={a}");
    }
    if let Some(a) = &q.action {
        let _ = write!(s, " action={a}");
    }
    if let Some(c) = q.client {
        let _ = write!(s, " client={c}");
    }
    if let Some(t) = q.since_ms {
        let _ = write!(s, " since={t}");
    }
    if let Some(t) = q.until_ms {
        let _ = write!(s, " until={t}");
    }
    s
}

/// `GET /v1/tenants/{tenant}/audit?device=&actor=&action=&client=&since=&until=&limit=&after=&order=&format=` (admin)
pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let (tenant, caller, _) =
        super::auth::authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    let p = query_params(
        &query,
        &[
            "device", "actor", "action", "client", "since", "until", "limit", "after", "order",
            "format",
        ],
    )?;
    let format = format_param(&p)?;
    let q = audit_query(&p)?;
    let page = state.stores.audit.query(tenant, &q).await?;
    let list = AuditList {
        entries: page
            .entries
            .into_iter()
            .map(|(cursor, entry)| AuditItem { cursor, entry })
            .collect(),
        next: page.next,
    };
    caller
        .audit(
            &state,
            "audit.export",
            Some(format!(
                "{} entries={}",
                describe(&q, format),
                list.entries.len()
            )),
        )
        .await?;
    Ok(match format {
        Format::Json => Json(list).into_response(),
        Format::Csv => csv_response(audit_csv(&list), "audit.csv", list.next.as_deref()),
    })
}

// ------------------------------------------------------------------ breach scope

/// The device a breach-scope report is about.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScopeDevice {
    /// Id.
    pub device_id: DeviceId,
    /// Name given at enrollment.
    pub name: String,
    /// Owner.
    pub user_id: uuid::Uuid,
    /// Owner's name, if the user still exists.
    pub user_name: Option<String>,
    /// Owner's role.
    pub user_role: Option<Role>,
    /// Lifecycle state.
    pub status: DeviceStatus,
    /// Enrollment time.
    pub enrolled_at_ms: i64,
    /// Last authenticated request (kept to the minute).
    pub last_contact_ms: i64,
    /// Latest vault unlock the device reported in its audit chain (device clock).
    pub last_unlock_ms: Option<i64>,
}

/// The device's remote wipe.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScopeWipe {
    /// `queued` (command issued, no receipt yet) or `confirmed` (device-signed receipt).
    pub status: String,
    /// Command id.
    pub command_id: String,
    /// When the command was issued.
    pub issued_at_ms: i64,
    /// Whether the device rescues unsynced records to quarantine first.
    pub rescue: bool,
    /// The verified receipt as recorded (`wiped_at_ms`, `received_at_ms`,
    /// `rescued_versions`, `unrescued_photos`, the device-signed receipt), once it wiped.
    pub receipt: Option<serde_json::Value>,
}

/// The wipe state as the device lifecycle records it on the device (read through its JSON so
/// this report follows that record without depending on its every field).
#[derive(Debug, serde::Deserialize)]
struct RecordedWipe {
    command_id: String,
    issued_at_ms: i64,
    #[serde(default)]
    rescue: bool,
    #[serde(default)]
    receipt: Option<serde_json::Value>,
}

fn wipe_of(d: &Device) -> Option<ScopeWipe> {
    let v = serde_json::to_value(d).ok()?.get("wipe").cloned()?;
    let w: RecordedWipe = serde_json::from_value(v).ok()?;
    let receipt = w.receipt.filter(|r| !r.is_null());
    Some(ScopeWipe {
        status: if receipt.is_some() {
            "confirmed".into()
        } else {
            "queued".into()
        },
        command_id: w.command_id,
        issued_at_ms: w.issued_at_ms,
        rescue: w.rescue,
        receipt,
    })
}

/// What one client's data did with respect to the device.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeClient {
    /// The client.
    pub client_id: Option<ObjectId>,
    /// First delivery of any of its versions or photos to the device.
    pub first_delivered_ms: Option<i64>,
    /// Last delivery.
    pub last_delivered_ms: Option<i64>,
    /// Record versions delivered (pulls).
    pub versions_delivered: u64,
    /// Photos delivered (download URLs issued).
    pub photos_delivered: u64,
    /// Record versions created on the device and stored by the server.
    pub versions_created: u64,
    /// Photos uploaded from the device.
    pub photos_created: u64,
    /// Last creation.
    pub last_created_ms: Option<i64>,
    /// Events about this client in the device's own audit chain (views, edits, …).
    pub device_events: u64,
    /// Latest of those (device clock).
    pub last_device_event_ms: Option<i64>,
}

/// Sums over the clients.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeTotals {
    /// Clients with any data on the device.
    pub clients: u64,
    /// Clients with data delivered to the device.
    pub clients_delivered: u64,
    /// Clients with data created on the device.
    pub clients_created: u64,
    /// Versions delivered.
    pub versions_delivered: u64,
    /// Photos delivered.
    pub photos_delivered: u64,
    /// Versions created.
    pub versions_created: u64,
    /// Photos created.
    pub photos_created: u64,
}

/// The state of the device's uploaded audit chain (how much to trust its events).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ScopeChain {
    /// Device events received.
    pub events: u64,
    /// Highest seq accepted.
    pub head_seq: Option<u64>,
    /// Events stored with a flag (gap, break, foreign, late).
    pub flagged_events: u64,
    /// Server `audit.chain_*` entries about the device (including rewritten history).
    pub chain_alerts: u64,
}

/// The breach-scope report of a device.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BreachScope {
    /// When generated.
    pub generated_at_ms: i64,
    /// The device.
    pub device: ScopeDevice,
    /// Remote wipe (null: none issued).
    pub wipe: Option<ScopeWipe>,
    /// Per client, by client id.
    pub clients: Vec<ScopeClient>,
    /// Sums.
    pub totals: ScopeTotals,
    /// Its uploaded audit chain.
    pub chain: ScopeChain,
    /// False if the device's history was longer than one report reads (then narrow by time
    /// with the audit view).
    pub complete: bool,
}

fn min_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn max_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// Folds a device's audit entries into per-client exposure.
fn fold_scope(
    entries: impl IntoIterator<Item = AuditEntry>,
) -> (BTreeMap<ObjectId, ScopeClient>, Option<i64>, ScopeChain) {
    let mut clients: BTreeMap<ObjectId, ScopeClient> = BTreeMap::new();
    let mut last_unlock = None;
    let mut chain = ScopeChain::default();
    for e in entries {
        let at = e.record.at_ms;
        if e.source == AuditSource::Device {
            chain.events += 1;
            if e.chain.as_ref().is_some_and(|c| c.flag.is_some()) {
                chain.flagged_events += 1;
            }
            if e.record.action == "unlock" {
                last_unlock = max_opt(last_unlock, at);
            }
        } else if e.record.action.starts_with("audit.chain_") {
            chain.chain_alerts += 1;
        }
        let Some(client) = e.client else { continue };
        let c = clients.entry(client).or_insert_with(|| ScopeClient {
            client_id: Some(client),
            ..ScopeClient::default()
        });
        let n = e.count.unwrap_or(1);
        match (e.source, e.record.action.as_str()) {
            (AuditSource::Device, _) => {
                c.device_events += 1;
                c.last_device_event_ms = max_opt(c.last_device_event_ms, at);
            }
            (AuditSource::Server, CLIENT_DELIVER | PHOTO_DOWNLOAD) => {
                if e.record.action == CLIENT_DELIVER {
                    c.versions_delivered += n;
                } else {
                    c.photos_delivered += n;
                }
                c.first_delivered_ms = min_opt(c.first_delivered_ms, at);
                c.last_delivered_ms = max_opt(c.last_delivered_ms, at);
            }
            (AuditSource::Server, CLIENT_CREATE | PHOTO_UPLOAD) => {
                if e.record.action == CLIENT_CREATE {
                    c.versions_created += n;
                } else {
                    c.photos_created += n;
                }
                c.last_created_ms = max_opt(c.last_created_ms, at);
            }
            _ => {}
        }
    }
    (clients, last_unlock, chain)
}

/// Builds the breach-scope report of `device`.
pub async fn breach_scope_report(
    state: &AppState,
    tenant: TenantId,
    device: DeviceId,
) -> ApiResult<BreachScope> {
    let d = state
        .stores
        .devices
        .get_device(tenant, device)
        .await?
        .ok_or_else(|| ApiError::not_found("no such device"))?;
    let user = state.stores.identity.get_user(tenant, d.user_id).await?;
    let mut q = AuditQuery {
        device: Some(device),
        limit: MAX_AUDIT_LIMIT,
        oldest_first: true,
        ..AuditQuery::default()
    };
    let mut all = Vec::new();
    let mut complete = false;
    for _ in 0..MAX_BREACH_PAGES {
        let page = state.stores.audit.query(tenant, &q).await?;
        all.extend(page.entries.into_iter().map(|(_, e)| e));
        match page.next {
            Some(n) => q.after = Some(n),
            None => {
                complete = true;
                break;
            }
        }
    }
    let (clients, last_unlock_ms, mut chain) = fold_scope(all);
    chain.head_seq = state
        .stores
        .audit
        .chain_head(tenant, device)
        .await?
        .map(|h| h.seq);
    let clients: Vec<ScopeClient> = clients
        .into_values()
        .filter(|c| {
            c.versions_delivered
                + c.photos_delivered
                + c.versions_created
                + c.photos_created
                + c.device_events
                > 0
        })
        .collect();
    let mut totals = ScopeTotals {
        clients: clients.len() as u64,
        ..ScopeTotals::default()
    };
    for c in &clients {
        totals.clients_delivered += u64::from(c.versions_delivered + c.photos_delivered > 0);
        totals.clients_created += u64::from(c.versions_created + c.photos_created > 0);
        totals.versions_delivered += c.versions_delivered;
        totals.photos_delivered += c.photos_delivered;
        totals.versions_created += c.versions_created;
        totals.photos_created += c.photos_created;
    }
    let wipe = wipe_of(&d);
    Ok(BreachScope {
        generated_at_ms: state.now(),
        device: ScopeDevice {
            device_id: d.device_id,
            name: d.name.clone(),
            user_id: d.user_id,
            user_name: user.as_ref().map(|u| u.display_name.clone()),
            user_role: user.as_ref().map(|u| u.role),
            status: d.status,
            enrolled_at_ms: d.enrolled_at_ms,
            last_contact_ms: d.last_seen_ms,
            last_unlock_ms,
        },
        wipe,
        clients,
        totals,
        chain,
        complete,
    })
}

/// Header of the breach-scope CSV: one row per client, the device's columns repeated.
pub const BREACH_CSV_HEADER: [&str; 25] = [
    "device_id",
    "device_name",
    "user_id",
    "user_name",
    "device_status",
    "last_contact",
    "last_unlock",
    "wipe_status",
    "wipe_issued",
    "wiped_at",
    "rescued_versions",
    "client_id",
    "first_delivered",
    "last_delivered",
    "versions_delivered",
    "photos_delivered",
    "versions_created",
    "photos_created",
    "last_created",
    "device_events",
    "last_device_event",
    "chain_events",
    "chain_flagged",
    "report_complete",
    "generated_at",
];

fn status_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn breach_csv(r: &BreachScope) -> String {
    let t = |ms: Option<i64>| ms.map(iso8601).unwrap_or_default();
    let mut out = String::new();
    csv_row(&mut out, &BREACH_CSV_HEADER.map(String::from));
    let d = &r.device;
    let receipt = r.wipe.as_ref().and_then(|w| w.receipt.as_ref());
    let device_cols = [
        d.device_id.to_string(),
        d.name.clone(),
        d.user_id.to_string(),
        d.user_name.clone().unwrap_or_default(),
        status_str(&d.status),
        iso8601(d.last_contact_ms),
        t(d.last_unlock_ms),
        r.wipe
            .as_ref()
            .map(|w| w.status.clone())
            .unwrap_or_else(|| "none".into()),
        t(r.wipe.as_ref().map(|w| w.issued_at_ms)),
        t(receipt.and_then(|x| x["wiped_at_ms"].as_i64())),
        opt(receipt.and_then(|x| x["rescued_versions"].as_u64())),
    ];
    let tail = [
        r.chain.events.to_string(),
        r.chain.flagged_events.to_string(),
        r.complete.to_string(),
        iso8601(r.generated_at_ms),
    ];
    let none = ScopeClient::default();
    let rows: Vec<&ScopeClient> = if r.clients.is_empty() {
        vec![&none]
    } else {
        r.clients.iter().collect()
    };
    for c in rows {
        let mut f: Vec<String> = device_cols.to_vec();
        f.extend([
            opt(c.client_id),
            t(c.first_delivered_ms),
            t(c.last_delivered_ms),
            c.versions_delivered.to_string(),
            c.photos_delivered.to_string(),
            c.versions_created.to_string(),
            c.photos_created.to_string(),
            t(c.last_created_ms),
            c.device_events.to_string(),
            t(c.last_device_event_ms),
        ]);
        f.extend(tail.iter().cloned());
        csv_row(&mut out, &f);
    }
    out
}

/// `GET /v1/tenants/{tenant}/devices/{device}/breach-scope?format=json|csv` (admin)
pub async fn breach_scope(
    State(state): State<AppState>,
    Path((tenant, device)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let (tenant, caller, _) =
        super::auth::authed_admin(&state, &tenant, &method, &uri, &headers, body).await?;
    let p = query_params(&query, &["format"])?;
    let format = format_param(&p)?;
    let device: DeviceId = path_id(&device, "device")?;
    let report = breach_scope_report(&state, tenant, device).await?;
    caller
        .audit(
            &state,
            "device.breach_scope",
            Some(format!(
                "device {device} clients={} format={}",
                report.totals.clients,
                if format == Format::Csv { "csv" } else { "json" }
            )),
        )
        .await?;
    Ok(match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => csv_response(
            breach_csv(&report),
            &format!("breach-scope-{device}.csv"),
            None,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("@x,y"), "\"'@x,y\"");
    }

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
