//! Health, the passkey association files for the native apps, and JSON fallbacks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use crate::error::ApiError;

/// Liveness.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// iOS associated domains: lets the app use passkeys for the RP id.
pub async fn apple_app_site_association(State(s): State<AppState>) -> impl IntoResponse {
    Json(json!({ "webcredentials": { "apps": s.config.ios_app_ids } }))
}

/// Android Digital Asset Links: lets the app use passkeys for the RP id.
pub async fn assetlinks(State(s): State<AppState>) -> impl IntoResponse {
    let statements: Vec<_> = s
        .config
        .android_package
        .iter()
        .map(|package| {
            json!({
                "relation": ["delegate_permission/common.get_login_creds"],
                "target": {
                    "namespace": "android_app",
                    "package_name": package,
                    "sha256_cert_fingerprints": s.config.android_cert_fingerprints,
                }
            })
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
        "method_not_allowed",
        "method not allowed",
    )
}

/// `GET /`: a plain page for a person who opens the server in a browser.
pub async fn index(State(s): State<AppState>) -> impl IntoResponse {
    let tenants = s.stores.tenants.list_tenants().await.unwrap_or_default();
    let rows: String = tenants
        .iter()
        .map(|t| {
            format!(
                "<li>{} — tenant id <code>{}</code> · <a href=\"/console#tenant={}\">admin console</a></li>",
                html_escape(&t.name),
                t.id,
                t.id
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ward</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         code{{background:#f2f2f2;padding:0 .25rem}}</style></head><body>\
         <h1>Ward is running</h1>\
         <p>This is the Ward sync API for clinic phones (relying party <code>{rp}</code>).</p>\
         <h2>Clinics on this server</h2><ul>{rows}</ul>\
         <h2>Getting started</h2><ol>\
         <li>The terminal that started the server shows a one-time <strong>setup code</strong> for the first admin.</li>\
         <li>Open the <a href=\"/console\">admin console</a> and enroll this browser with that code and a passkey \
         (or enroll a device with the Ward app or the <code>ward</code> CLI).</li>\
         <li>The admin then invites staff and approves their phones.</li></ol>\
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
