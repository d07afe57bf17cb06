//! CSV exports of the audit view and the breach-scope report (RFC 4180, formula-safe), and
//! the UTC timestamps they carry.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::reports::{AuditList, BreachScope, ScopeClient};
use crate::model::AuditSource;

pub use crate::domain::text::iso8601;

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

pub(super) fn csv_response(body: String, filename: &str, next: Option<&str>) -> Response {
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

pub(super) fn audit_csv(list: &AuditList) -> String {
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

pub(super) fn breach_csv(r: &BreachScope) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
