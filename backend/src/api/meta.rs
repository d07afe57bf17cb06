//! Health, the passkey association files for the native apps, and JSON fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;
use crate::error::{ApiError, ErrorCode};

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// Liveness.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The iOS associated-domains file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AppSiteAssociation {
    /// Apps that may use passkeys for the RP id.
    pub webcredentials: WebCredentials,
}

/// The `webcredentials` entry.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WebCredentials {
    /// `TEAMID.bundle.id` of each app.
    pub apps: Vec<String>,
}

/// iOS associated domains: lets the app use passkeys for the RP id.
pub async fn apple_app_site_association(State(s): State<AppState>) -> Json<AppSiteAssociation> {
    Json(AppSiteAssociation {
        webcredentials: WebCredentials {
            apps: s.config.ios_app_ids.clone(),
        },
    })
}

/// One Digital Asset Links statement.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetLink {
    /// `delegate_permission/common.get_login_creds`.
    pub relation: Vec<String>,
    /// The Android app.
    pub target: AssetTarget,
}

/// The app a statement is about.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetTarget {
    /// `android_app`.
    pub namespace: String,
    /// Package name.
    pub package_name: String,
    /// SHA-256 fingerprints of its signing certificates.
    pub sha256_cert_fingerprints: Vec<String>,
}

/// Android Digital Asset Links: lets the app use passkeys for the RP id.
pub async fn assetlinks(State(s): State<AppState>) -> Json<Vec<AssetLink>> {
    let statements: Vec<AssetLink> = s
        .config
        .android_package
        .iter()
        .map(|package| AssetLink {
            relation: vec!["delegate_permission/common.get_login_creds".into()],
            target: AssetTarget {
                namespace: "android_app".into(),
                package_name: package.clone(),
                sha256_cert_fingerprints: s.config.android_cert_fingerprints.clone(),
            },
        })
        .collect();
    Json(statements)
}

/// Unknown route.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "method not allowed",
    )
}

/// `GET /`: a plain page for a person who opens the server in a browser. It names no clinic:
/// which clinics a server hosts is nobody's business but its operator's (each clinic reaches
/// its console at `/console#tenant=<id>`, the address the setup banner prints).
pub async fn index(State(s): State<AppState>) -> impl IntoResponse {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ward</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         code{{background:#f2f2f2;padding:0 .25rem}}</style></head><body>\
         <h1>Ward is running</h1>\
         <p>This is the Ward sync API for clinic phones (relying party <code>{rp}</code>).</p>\
         <h2>Getting started</h2><ol>\
         <li>The terminal that started the server (or <code>ward-server tenant create</code>) shows your clinic's \
         <strong>console address</strong> and a one-time <strong>setup code</strong> for its first admin.</li>\
         <li>Open that address (<code>/console#tenant=&lt;clinic id&gt;</code>) and enroll this browser with the code and a passkey \
         (or enroll a device with the Ward app or the <code>ward</code> CLI).</li>\
         <li>The admin then invites staff, approves their phones and sets up care teams.</li></ol>\
         <p>Health: <a href=\"/healthz\">/healthz</a> · API description: <a href=\"/openapi.json\">/openapi.json</a></p>\
         </body></html>",
        rp = html_escape(&s.config.rp_id),
    );
    ([("content-type", "text/html; charset=utf-8")], page)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
