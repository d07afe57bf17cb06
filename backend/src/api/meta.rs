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
