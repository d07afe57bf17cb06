//! Server configuration, read from `WARD_*` environment variables with local defaults.
//!
//! The same settings drive both mains (ward-server and ward-lambda) and the infrastructure
//! template declares every variable read here.

use std::path::PathBuf;

/// Which storage adapter to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// SQLite + files + local master key in a data folder.
    Embedded {
        /// The data folder.
        dir: PathBuf,
    },
    /// DynamoDB + S3 + KMS (real AWS, or an emulator via `endpoint`).
    Aws {
        /// DynamoDB table name.
        table: String,
        /// S3 bucket name.
        bucket: String,
        /// The off-site replica bucket (template parameter `ReplicaBucketArn`), whose copies an
        /// erasure deletes too; `None` without replication.
        replica_bucket: Option<String>,
        /// Custom endpoint (moto) — unset on AWS.
        endpoint: Option<String>,
    },
}

/// Everything the router needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// WebAuthn relying-party id (the domain; "localhost" locally).
    pub rp_id: String,
    /// The web origin of the console (and the RP origin).
    pub web_origin: String,
    /// Further allowed WebAuthn origins: `https://<rp_id>` for iOS is implied by `web_origin`
    /// on AWS; Android apps present `android:apk-key-hash:<hash>`.
    pub extra_origins: Vec<String>,
    /// iOS app ids (`TEAMID.bundle.id`) for apple-app-site-association.
    pub ios_app_ids: Vec<String>,
    /// Android package name for assetlinks.json.
    pub android_package: Option<String>,
    /// SHA-256 fingerprints (AA:BB:…) of the Android signing certificates.
    pub android_cert_fingerprints: Vec<String>,
    /// Session lifetime.
    pub session_ttl_ms: i64,
    /// WebAuthn ceremony lifetime.
    pub ceremony_ttl_ms: i64,
    /// Invite lifetime.
    pub invite_ttl_ms: i64,
    /// Allowed clock skew of signed requests (and nonce retention).
    pub max_skew_ms: i64,
    /// Storage.
    pub store: StoreConfig,
}

/// Every `WARD_*` variable [`Config::from_env`] reads. The infrastructure template
/// (`infra/template.yaml`) defines each of them except [`LOCAL_ONLY_ENV_VARS`];
/// `backend/tests/infra_template.rs` checks both lists against this file and the template.
pub const ENV_VARS: &[&str] = &[
    "WARD_PORT",
    "WARD_DATA_DIR",
    "WARD_RP_ID",
    "WARD_WEB_ORIGIN",
    "WARD_EXTRA_ORIGINS",
    "WARD_IOS_APP_IDS",
    "WARD_ANDROID_PACKAGE",
    "WARD_ANDROID_CERT_SHA256",
    "WARD_STORE",
    "WARD_TABLE",
    "WARD_BUCKET",
    "WARD_REPLICA_BUCKET",
    "WARD_AWS_ENDPOINT",
];

/// The variables of [`ENV_VARS`] that only apply on one machine (`ward-server`'s port and
/// data folder, an emulator's endpoint): never set on Lambda.
pub const LOCAL_ONLY_ENV_VARS: &[&str] = &["WARD_PORT", "WARD_DATA_DIR", "WARD_AWS_ENDPOINT"];

/// What each of [`ENV_VARS`] sets, in the same order, for `ward-server --help`.
pub const ENV_VAR_HELP: &[(&str, &str)] = &[
    ("WARD_PORT", "port to listen on (default 8080)"),
    (
        "WARD_DATA_DIR",
        "the embedded store's data folder (default ./ward-data)",
    ),
    (
        "WARD_RP_ID",
        "WebAuthn relying-party id, the domain (default localhost)",
    ),
    (
        "WARD_WEB_ORIGIN",
        "the console's origin (default http://localhost:<port>)",
    ),
    (
        "WARD_EXTRA_ORIGINS",
        "further WebAuthn origins, comma-separated (android:apk-key-hash:...)",
    ),
    (
        "WARD_IOS_APP_IDS",
        "iOS app ids (TEAMID.bundle.id), comma-separated",
    ),
    ("WARD_ANDROID_PACKAGE", "Android package name"),
    (
        "WARD_ANDROID_CERT_SHA256",
        "Android signing certificate SHA-256 fingerprints, comma-separated",
    ),
    (
        "WARD_STORE",
        "aws for DynamoDB + S3 + KMS (default: the embedded store)",
    ),
    ("WARD_TABLE", "DynamoDB table (default ward)"),
    ("WARD_BUCKET", "S3 bucket (default ward-objects)"),
    (
        "WARD_REPLICA_BUCKET",
        "the replica bucket of cross-region replication, if any (erasure deletes its copies)",
    ),
    (
        "WARD_AWS_ENDPOINT",
        "endpoint of an AWS emulator (moto); never set on AWS",
    ),
];

fn list(var: &str) -> Vec<String> {
    std::env::var(var)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

impl Config {
    /// Local defaults: RP "localhost", console on http://localhost:`port`, embedded store.
    pub fn local(port: u16, data_dir: PathBuf) -> Self {
        Self {
            rp_id: "localhost".into(),
            web_origin: format!("http://localhost:{port}"),
            extra_origins: Vec::new(),
            ios_app_ids: Vec::new(),
            android_package: None,
            android_cert_fingerprints: Vec::new(),
            session_ttl_ms: 12 * 3600 * 1000,
            ceremony_ttl_ms: 5 * 60 * 1000,
            invite_ttl_ms: 7 * 24 * 3600 * 1000,
            max_skew_ms: 5 * 60 * 1000,
            store: StoreConfig::Embedded { dir: data_dir },
        }
    }

    /// Reads `WARD_*` variables over the local defaults.
    pub fn from_env(default_port: u16) -> Self {
        let port = std::env::var("WARD_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(default_port);
        let dir = std::env::var_os("WARD_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| "ward-data".into());
        let mut c = Self::local(port, dir.clone());
        if let Ok(v) = std::env::var("WARD_RP_ID") {
            c.rp_id = v;
        }
        if let Ok(v) = std::env::var("WARD_WEB_ORIGIN") {
            c.web_origin = v;
        }
        c.extra_origins = list("WARD_EXTRA_ORIGINS");
        c.ios_app_ids = list("WARD_IOS_APP_IDS");
        c.android_package = std::env::var("WARD_ANDROID_PACKAGE").ok();
        c.android_cert_fingerprints = list("WARD_ANDROID_CERT_SHA256");
        if std::env::var("WARD_STORE").as_deref() == Ok("aws") {
            c.store = StoreConfig::Aws {
                table: std::env::var("WARD_TABLE").unwrap_or_else(|_| "ward".into()),
                bucket: std::env::var("WARD_BUCKET").unwrap_or_else(|_| "ward-objects".into()),
                replica_bucket: std::env::var("WARD_REPLICA_BUCKET")
                    .ok()
                    .filter(|b| !b.is_empty()),
                endpoint: std::env::var("WARD_AWS_ENDPOINT").ok(),
            };
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_env_var_has_its_help_line() {
        let helped: Vec<&str> = ENV_VAR_HELP.iter().map(|(name, _)| *name).collect();
        assert_eq!(helped, ENV_VARS);
    }
}
