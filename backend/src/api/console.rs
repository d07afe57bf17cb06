//! The web admin console: static files (HTML, ES modules, CSS) compiled into the binary and
//! served under `/console`, so the console always matches the API it talks to and a Lambda
//! deployment needs no separate bucket. The console holds its own device key and decrypts
//! client names in the browser (see `docs/console.md`); this module only serves bytes. Every
//! answer carries a strict Content-Security-Policy (scripts and styles from this origin only,
//! no inline script, no framing, API calls to this origin only), `nosniff` and no referrer.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The policy every console response carries. `'wasm-unsafe-eval'` is not needed: WebCrypto
/// does all the cryptography.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One of the console's ES modules: its name, the JavaScript content type and its bytes.
macro_rules! module {
    ($name:literal) => {
        (
            $name,
            "text/javascript; charset=utf-8",
            include_str!(concat!("../../console/", $name)),
        )
    };
}

/// The console's files: name, content type, bytes. `app.js` wires the page; each section
/// (sign-in, devices, staff, quarantine, audit, breach scope, policies) is a module of its own.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    module!("app.js"),
    module!("state.js"),
    module!("actions.js"),
    module!("names.js"),
    module!("signin.js"),
    module!("devices.js"),
    module!("staff.js"),
    module!("quarantine.js"),
    module!("audit.js"),
    module!("breach.js"),
    module!("policies.js"),
    module!("person.js"),
    module!("teams.js"),
    module!("erasure.js"),
    module!("alerts.js"),
    module!("idle.js"),
    module!("api.js"),
    module!("wcrypto.js"),
    module!("passkey.js"),
    module!("store.js"),
    module!("ui.js"),
];

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (CONTENT_TYPE, *content_type),
                (CONTENT_SECURITY_POLICY, CSP),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (X_FRAME_OPTIONS, "DENY"),
                (REFERRER_POLICY, "no-referrer"),
                // Small files, always revalidated: a new server build never runs old scripts.
                (CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::not_found("no such console file").into_response(),
    }
}

/// `GET /console`: the console page.
pub async fn index() -> Response {
    file("index.html")
}

/// `GET /console/{file}`: one of the console's files.
pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_and_style_the_page_loads_is_served() {
        let html = FILES[0].2;
        for (name, _, body) in FILES {
            assert!(!body.is_empty(), "{name}");
            if name.ends_with(".js") || name.ends_with(".css") {
                // Scripts are imported by app.js; app.js and the stylesheet by the page.
                let referenced = FILES.iter().any(|(_, _, b)| {
                    b.contains(&format!("/console/{name}")) || b.contains(&format!("./{name}"))
                });
                assert!(referenced, "{name} is not referenced by any console file");
            }
        }
        assert!(html.contains("/console/app.js"));
        // No inline script or style: the CSP would block them.
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains("style="), "inline style");
        assert!(!html.contains("onclick"), "inline handler");
    }

    /// The console branches on error codes by their wire strings; each one it names must be a
    /// code the server can send, so a renamed code cannot silently break a screen.
    #[test]
    fn every_error_code_the_console_matches_exists() {
        use ward_proto::errors::ErrorCode;
        let mut seen = 0;
        for (name, _, body) in FILES {
            for (at, _) in body.match_indices("code === '") {
                // `typeof e.code === 'string'` checks a type, not a code.
                if body[..at].ends_with("typeof e.") {
                    continue;
                }
                let rest = &body[at + "code === '".len()..];
                let Some((code, _)) = rest.split_once('\'') else {
                    continue;
                };
                assert_ne!(
                    ErrorCode::parse(code),
                    ErrorCode::Unknown,
                    "{name} matches {code:?}, which is not an ErrorCode"
                );
                seen += 1;
            }
        }
        assert!(
            seen > 0,
            "no code found: the scan no longer matches the console's code"
        );
    }

    #[test]
    fn every_module_a_console_file_imports_is_served() {
        for (name, _, body) in FILES {
            for import in body.split("from './").skip(1) {
                let Some((module, _)) = import.split_once('\'') else {
                    continue;
                };
                assert!(
                    FILES.iter().any(|(n, _, _)| *n == module),
                    "{name} imports {module}, which is not served"
                );
            }
        }
    }

    #[test]
    fn every_file_in_the_console_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                FILES.iter().any(|(n, _, _)| *n == name),
                "backend/console/{name} is not in console.rs's FILES"
            );
        }
    }
}
