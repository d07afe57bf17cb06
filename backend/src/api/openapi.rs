//! The OpenAPI 3.1 document, generated from the same route table that builds the Router (see
//! `api::routes`), with request/response schemas derived from the Rust types (schemars), so the
//! description cannot drift from what is served. Served at `/openapi.json`.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (rate limited where it starts a ceremony).
    Public,
    /// A signed request from a session's device (pending devices allowed).
    Session,
    /// A signed request from an admin-approved device.
    Device,
    /// An admin on an approved device.
    Admin,
    /// An admin with a passkey assertion in the last five minutes.
    AdminStepUp,
    /// Holder of a presigned URL (embedded mode's blob endpoint).
    SignedUrl,
}

/// A schema generator function for a Rust type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// The schema of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// Documentation of one operation.
#[derive(Debug, Clone)]
pub struct Doc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template with `{param}`s.
    pub path: String,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// JSON request body type.
    pub request: Option<SchemaFn>,
    /// JSON response body type.
    pub response: Option<SchemaFn>,
}

fn security(access: Access) -> Value {
    match access {
        Access::Public | Access::SignedUrl => json!([]),
        _ => json!([{"session": [], "deviceSignature": []}]),
    }
}

fn access_note(access: Access) -> &'static str {
    match access {
        Access::Public => "Public.",
        Access::Session => "Signed request of a session's device.",
        Access::Device => "Signed request from an approved device.",
        Access::Admin => "Admin on an approved device.",
        Access::AdminStepUp => {
            "Admin on an approved device, with a passkey step-up in the last 5 minutes."
        }
        Access::SignedUrl => "Presigned URL (embedded mode only).",
    }
}

/// Builds the document for `docs`.
pub fn document(docs: &[Doc]) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for d in docs {
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name.trim_start_matches('*'), "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": d.summary,
            "description": access_note(d.access),
            "parameters": params,
            "security": security(d.access),
            "responses": {
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(req) = d.request {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": req(&mut g)}}});
        }
        op["responses"]["200"] = match d.response {
            Some(resp) => {
                json!({"description": "OK", "content": {"application/json": {"schema": resp(&mut g)}}})
            }
            None => json!({"description": "OK"}),
        };
        let path = d.path.replace("{*", "{");
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[d.method] = op;
    }
    let mut schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Ward sync API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Passkey identity, device-signed requests, per-tenant keys, envelope sync and presigned photo transfer. Every error is JSON with a stable code."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "Session token; also send x-ward-session."},
                "deviceSignature": {"type": "apiKey", "in": "header", "name": "x-ward-signature",
                    "description": "Ed25519 signature by the session's device over ward-req-v1 (method, path, body SHA-256, x-ward-timestamp, x-ward-nonce, session id); send x-ward-device too."}
            }
        }
    })
}
