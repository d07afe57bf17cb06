//! The OpenAPI document is complete: every operation has a typed success response, the error
//! body with its code enum, its query parameters and the signed-request headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use serde_json::Value;

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

/// A schema that says nothing (`true`, `{}`) is untyped.
fn typed(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

#[test]
fn no_operation_has_an_untyped_response() {
    let doc = ward_backend::api::openapi_document();
    let ops = operations(&doc);
    assert!(ops.len() >= 30);
    for (method, path, op) in ops {
        let ok = &op["responses"]["200"];
        assert!(ok.is_object(), "{method} {path}: no 200 response");
        match ok["content"].as_object() {
            Some(content) => {
                assert!(!content.is_empty(), "{method} {path}: empty content");
                for (media, body) in content {
                    assert!(
                        typed(&body["schema"]),
                        "{method} {path}: {media} response is untyped: {}",
                        body["schema"]
                    );
                }
            }
            // Only the blob upload answers with no body (its etag header).
            None => assert!(
                ok["headers"]["etag"].is_object(),
                "{method} {path}: no content"
            ),
        }
        if let Some(req) = op.get("requestBody") {
            let schema = &req["content"]["application/json"]["schema"];
            assert!(typed(schema), "{method} {path}: untyped request");
        }
    }
}

#[test]
fn errors_are_described_with_their_code_enum() {
    let doc = ward_backend::api::openapi_document();
    for (method, path, op) in operations(&doc) {
        for status in ["4XX", "default"] {
            let schema = &op["responses"][status]["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ErrorBody"]["properties"]["error"].is_object());
    let code = serde_json::to_string(&schemas["ErrorCode"]).unwrap();
    for c in ward_proto::errors::ErrorCode::ALL {
        assert!(code.contains(&format!("\"{}\"", c.as_str())), "{c} missing");
    }
}

#[test]
fn query_parameters_and_signed_request_headers_are_declared() {
    let doc = ward_backend::api::openapi_document();
    let names = |path: &str, method: &str, place: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == place)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let pull = names("/v1/tenants/{tenant}/objects/pull", "get", "query");
    for p in ["after", "limit", "exclude_own"] {
        assert!(pull.contains(&p.to_string()), "pull lacks {p}");
    }
    let audit = names("/v1/tenants/{tenant}/audit", "get", "query");
    for p in [
        "device", "actor", "action", "client", "since", "until", "limit", "after", "order",
        "format",
    ] {
        assert!(audit.contains(&p.to_string()), "audit lacks {p}");
    }
    let scope = names(
        "/v1/tenants/{tenant}/devices/{device}/breach-scope",
        "get",
        "query",
    );
    assert_eq!(scope, vec!["format".to_string()]);
    let headers = names("/v1/tenants/{tenant}/objects/push", "post", "header");
    for h in [
        "x-ward-session",
        "x-ward-device",
        "x-ward-timestamp",
        "x-ward-nonce",
        "x-ward-signature",
    ] {
        assert!(headers.contains(&h.to_string()), "push lacks {h}");
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert!(
            schemes.values().any(|s| s["name"] == h),
            "no security scheme for {h}"
        );
    }
    assert!(names("/v1/tenants/{tenant}/login/start", "post", "header").is_empty());
    let invite = &doc["paths"]["/v1/tenants/{tenant}/invites"]["post"]["responses"]["200"];
    let r = invite["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    let name = r.trim_start_matches("#/components/schemas/");
    assert!(doc["components"]["schemas"][name]["properties"]["code"].is_object());
}
