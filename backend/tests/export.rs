//! Export of one client's record over HTTP (ADR 0017): admins only, with a fresh step-up; every
//! version as the ciphertext it was pushed as, in pages; the client's access log; a use beyond
//! care names its consents; every page audited; typed 4xx for bad input; nothing of an erased
//! client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use ward_proto::{Kind, ObjectId};

#[tokio::test]
async fn an_admin_exports_every_version_of_one_client_in_audited_pages() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clinician = app.staff(&admin, "clinician", "Casey", true).await;
    let desk = app.staff(&admin, "front_desk", "Robin", true).await;
    let key = release_keys(&app, &clinician).await[0].clone();
    let client = push_client(&app, &clinician, &key).await;
    let other = push_client(&app, &clinician, &key).await;
    // Three versions of one note of the client, one note of another client.
    let note = ObjectId::random();
    let mut parent = None;
    let mut pushed = vec![client.version];
    for text in ["v1", "v2", "v3"] {
        let (o, env) = envelope(&app.tenant, &key, note, Kind::Note, text.as_bytes());
        let mut it = item(&o, Some(client.object), &env);
        it["parent_version"] = json!(parent);
        let r = push(&app, &clinician, vec![it]).await;
        assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
        parent = Some(o.version);
        pushed.push(o.version);
    }
    let (o, env) = envelope(&app.tenant, &key, ObjectId::random(), Kind::Note, b"x");
    let r = push(&app, &clinician, vec![item(&o, Some(other.object), &env)]).await;
    assert_eq!(r.body[0]["status"], "created");

    let path = app.t(&format!("/clients/{}/export", client.object));
    let record = json!({"purpose": "record"});
    for d in [&clinician, &desk] {
        let r = app.call(d, "POST", &path, Some(record.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    app.advance(10 * 60 * 1000);
    let r = app.call(&admin, "POST", &path, Some(record.clone())).await;
    assert_eq!(r.body["error"]["code"], "step_up_required");
    app.step_up(&mut admin).await;

    for (body, code) in [
        (json!({}), "invalid_json"),
        (json!({"purpose": "sale"}), "invalid_json"),
        (json!({"purpose": "record", "extra": 1}), "invalid_json"),
        (json!({"purpose": "marketing"}), "consent_required"),
        (
            json!({"purpose": "training", "consent_ids": []}),
            "consent_required",
        ),
        (json!({"purpose": "record", "after": -1}), "invalid_json"),
    ] {
        let r = app.call(&admin, "POST", &path, Some(body.clone())).await;
        assert!(r.status.is_client_error(), "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{body}: {:?}", r.body);
    }
    let unknown = app.t(&format!("/clients/{}/export", ObjectId::random()));
    let r = app
        .call(&admin, "POST", &unknown, Some(record.clone()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Two pages of two: every version of the client, none of the other, the envelopes as
    // pushed; the access log on the first page.
    let mut got = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"purpose": "record", "limit": 2});
        if let Some(a) = after {
            body["after"] = json!(a);
        }
        let r = app.call(&admin, "POST", &path, Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages += 1;
        assert_eq!(r.body["client_id"], client.object.to_string());
        let log = r.body["access_log"].as_array().unwrap();
        if pages == 1 {
            assert!(
                log.iter().any(|e| e["action"] == "client.create"),
                "the pushes are in the access log: {log:?}"
            );
        } else {
            assert!(log.is_empty(), "the log comes once");
        }
        for v in r.body["versions"].as_array().unwrap() {
            assert!(v["envelope"].is_string(), "{v}");
            got.push(v["version_id"].as_str().unwrap().to_string());
        }
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        after = Some(r.body["next_after"].as_u64().unwrap());
    }
    assert_eq!(pages, 2);
    let want: Vec<String> = pushed.iter().map(ToString::to_string).collect();
    assert_eq!(got, want, "every version, in feed order, and nothing else");

    // A marketing export names its consents; all of it is in the audit log.
    let consent = ObjectId::random();
    let r = app
        .call(
            &admin,
            "POST",
            &path,
            Some(json!({"purpose": "marketing", "consent_ids": [consent]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["purpose"], "marketing");
    let audit = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/audit?client={}&limit=100", client.object)),
            None,
        )
        .await;
    let entries = audit.body["entries"].as_array().unwrap();
    let of = |a: &str| entries.iter().filter(|e| e["action"] == a).count();
    assert_eq!(of("client.export"), 2, "{entries:?}");
    assert_eq!(of("client.export.page"), 1);
    assert!(entries.iter().any(|e| {
        e["action"] == "client.export"
            && e["target"]
                .as_str()
                .unwrap()
                .contains(&format!("purpose=marketing consents=[{consent}]"))
    }));

    // An erased client has nothing to export.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/clients/{}/erase", client.object)),
            Some(json!({"reason": "patient asked to be forgotten"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&admin, "POST", &path, Some(record)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
}
