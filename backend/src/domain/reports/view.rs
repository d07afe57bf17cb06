//! The audit view: a filtered, cursor-paginated page of server and device events; every view
//! is itself audited (`audit.export`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::domain::{Caller, DomainResult, Env};
use crate::model::AuditEntry;
use crate::store::AuditQuery;

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

/// The filters of `q` as the audit entry records them.
fn describe(q: &AuditQuery, format: &str) -> String {
    let mut s = format!("format={format}");
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

/// One page of the caller's tenant's audit log for `q`, exported as `format` (`json`, `csv`;
/// recorded in the `audit.export` entry).
pub async fn list(
    env: Env<'_>,
    caller: &Caller,
    q: &AuditQuery,
    format: &str,
) -> DomainResult<AuditList> {
    // An export (a file that leaves the console) needs a fresh passkey assertion.
    if format == "csv" {
        caller.require_step_up(env.now())?;
    }
    let page = env.stores.audit.query(caller.tenant, q).await?;
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
            env,
            "audit.export",
            Some(format!(
                "{} entries={}",
                describe(q, format),
                list.entries.len()
            )),
        )
        .await?;
    Ok(list)
}
