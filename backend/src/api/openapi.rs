//! The OpenAPI 3.1 document, generated from the same route table that builds the Router (see
//! `api::routes`), with request/response schemas derived from the Rust types (schemars), so the
//! description cannot drift from what is served. Served at `/openapi.json`.
//!
//! Every operation lists its path and query parameters, the `x-ward-*` headers of a signed
//! request (also as security schemes), its typed 200 response, and the JSON error body (with
//! the [`ErrorCode`] enum) on 4xx and 5xx.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde::Serialize;
use serde_json::{Map, Value, json};
use ward_proto::errors::{
    ErrorCode, HEADER_DEVICE, HEADER_NONCE, HEADER_SESSION, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

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

impl Access {
    /// Whether the request must be signed by a session's device.
    pub fn signed(self) -> bool {
        !matches!(self, Access::Public | Access::SignedUrl)
    }
}

/// A schema generator function for a Rust type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// The schema of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// Any JSON object (the OpenAPI document itself).
pub fn any_object(_: &mut SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object"})
}

/// What an operation answers with on success.
#[derive(Debug, Clone, Copy)]
pub enum Returns {
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// A JSON body of this schema, or with `format=csv` a CSV file.
    JsonOrCsv(SchemaFn),
    /// An HTML page.
    Html,
    /// A file of the console (HTML, JavaScript, CSS).
    Text,
    /// Raw bytes (a blob).
    Bytes,
    /// No body (an `etag` header).
    Empty,
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// JSON Schema type of its value (`integer`, `string`).
    pub ty: &'static str,
    /// What it does.
    pub description: &'static str,
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
    /// Success response.
    pub returns: Returns,
    /// Query parameters.
    pub query: &'static [Param],
}

/// The JSON error body every failure is answered with (`crate::error::ApiError`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// With `410 wipe_required`: the signed wipe command the device must execute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wipe: Option<ward_proto::wipe::SignedWipe>,
}

/// A stable error code and a human message.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable code (docs/protocol.md).
    pub code: ErrorCode,
    /// Human message (no secrets, no clinical content).
    pub message: String,
}

fn security(access: Access) -> Value {
    if access.signed() {
        json!([{"session": [], "wardSession": [], "wardDevice": [], "wardTimestamp": [],
                "wardNonce": [], "deviceSignature": []}])
    } else {
        json!([])
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

/// The headers of a signed request (`ward_proto::signing`).
const SIGNED_HEADERS: [(&str, &str); 5] = [
    (HEADER_SESSION, "The session id (bound into the signature)."),
    (HEADER_DEVICE, "The device id whose key signed the request."),
    (
        HEADER_TIMESTAMP,
        "Signing time, ms since the epoch (within the server's skew window).",
    ),
    (
        HEADER_NONCE,
        "A fresh random nonce (a reused one is `replayed_request`).",
    ),
    (
        HEADER_SIGNATURE,
        "Ed25519 signature over ward-req-v1 (method, path, body SHA-256, timestamp, nonce, session id).",
    ),
];

fn parameters(d: &Doc) -> Vec<Value> {
    let mut params: Vec<Value> = d
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name.trim_start_matches('*'), "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(d.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": false, "description": p.description,
               "schema": {"type": p.ty}})
    }));
    if d.access.signed() {
        params.extend(SIGNED_HEADERS.iter().map(|(name, description)| {
            json!({"name": name, "in": "header", "required": true, "description": description,
                   "schema": {"type": "string"}})
        }));
    }
    params
}

fn success(returns: Returns, g: &mut SchemaGenerator) -> Value {
    let text = |ty: &str| json!({ty: {"schema": {"type": "string"}}});
    match returns {
        Returns::Json(s) => {
            json!({"description": "OK", "content": {"application/json": {"schema": s(g)}}})
        }
        Returns::JsonOrCsv(s) => json!({"description": "OK (CSV with format=csv)", "content": {
            "application/json": {"schema": s(g)},
            "text/csv": {"schema": {"type": "string"}}}}),
        Returns::Html => json!({"description": "OK", "content": text("text/html")}),
        Returns::Text => json!({"description": "OK", "content": {
            "text/html": {"schema": {"type": "string"}},
            "text/javascript": {"schema": {"type": "string"}},
            "text/css": {"schema": {"type": "string"}}}}),
        Returns::Bytes => json!({"description": "OK", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
        Returns::Empty => json!({"description": "OK (the part's etag in the `etag` header)",
            "headers": {"etag": {"schema": {"type": "string"}}}}),
    }
}

/// Builds the document for `docs`.
pub fn document(docs: &[Doc]) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let error = g.subschema_for::<ErrorBody>();
    let error_response = json!({"description": "Error (see `error.code`)",
        "content": {"application/json": {"schema": error}}});
    let mut paths: Map<String, Value> = Map::new();
    for d in docs {
        let mut op = json!({
            "summary": d.summary,
            "description": access_note(d.access),
            "parameters": parameters(d),
            "security": security(d.access),
            "responses": {
                "4XX": error_response,
                "default": error_response,
            }
        });
        if let Some(req) = d.request {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": req(&mut g)}}});
        }
        op["responses"]["200"] = success(d.returns, &mut g);
        let path = d.path.replace("{*", "{");
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[d.method] = op;
    }
    let schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    let header_scheme = |name: &str, description: &str| json!({"type": "apiKey", "in": "header", "name": name, "description": description});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Ward sync API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Passkey identity, device-signed requests, per-tenant keys, envelope sync and presigned photo transfer. Every error is JSON with a stable code."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "Session token; also send x-ward-session."},
                "wardSession": header_scheme(HEADER_SESSION, SIGNED_HEADERS[0].1),
                "wardDevice": header_scheme(HEADER_DEVICE, SIGNED_HEADERS[1].1),
                "wardTimestamp": header_scheme(HEADER_TIMESTAMP, SIGNED_HEADERS[2].1),
                "wardNonce": header_scheme(HEADER_NONCE, SIGNED_HEADERS[3].1),
                "deviceSignature": header_scheme(HEADER_SIGNATURE, SIGNED_HEADERS[4].1),
            }
        }
    })
}
