//! The audit view's and breach-scope report's query parameters: each at most once, only the
//! known ones, every value checked (400 `bad_query` otherwise).

use std::collections::HashMap;

use crate::domain::reports::chain::valid_token;
use crate::domain::reports::{DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::store::AuditQuery;

/// The audit view's parameters.
pub const AUDIT_PARAMS: &[&str] = &[
    "device", "actor", "action", "client", "since", "until", "limit", "after", "order", "format",
];

/// How a view is answered (`?format=json|csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (the default).
    Json,
    /// CSV.
    Csv,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::BadQuery, message)
}

/// Query parameters, each at most once, only from `allowed`.
pub fn query_params(
    query: &Option<String>,
    allowed: &[&str],
) -> ApiResult<HashMap<String, String>> {
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

/// `format`.
pub fn format_param(p: &HashMap<String, String>) -> ApiResult<Format> {
    match p.get("format").map(String::as_str) {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(bad_query("format must be json or csv")),
    }
}

/// The audit view's filters.
pub fn audit_query(p: &HashMap<String, String>) -> ApiResult<AuditQuery> {
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

impl Format {
    /// Its name in `?format=` (and in the audit entry of the export).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}
