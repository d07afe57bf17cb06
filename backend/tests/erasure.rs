//! Erasure of one client over HTTP (ADR 0016): who may erase (admins, with a fresh step-up,
//! a typed reason), the retention hold and its override, typed 4xx for bad input, idempotent
//! retries, and what an erased client may no longer receive (pushes, first keys).
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

#[tokio::test]
async fn erasure_is_an_admins_explained_step_up_act_and_an_erased_client_takes_nothing() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clinician = app.staff(&admin, "clinician", "Casey", true).await;
    let desk = app.staff(&admin, "front_desk", "Robin", true).await;
    let key = release_keys(&app, &clinician).await[0].clone();
    let client = push_client(&app, &clinician, &key).await;
    let erase = app.t(&format!("/clients/{}/erase", client.object));
    let why = json!({"reason": "patient asked to be forgotten"});

    // Not front desk, not a clinician: admins only.
    for d in [&clinician, &desk] {
        let r = app.call(d, "POST", &erase, Some(why.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    // An admin without a fresh step-up.
    app.advance(10 * 60 * 1000);
    let r = app.call(&admin, "POST", &erase, Some(why.clone())).await;
    assert_eq!(r.body["error"]["code"], "step_up_required");
    app.step_up(&mut admin).await;
    // Bad input: typed 4xx, nothing erased.
    for (body, code) in [
        (json!({"reason": "asked"}), "reason_required"),
        (json!({}), "invalid_json"),
        (
            json!({"reason": "patient asked to be forgotten", "extra": 1}),
            "invalid_json",
        ),
    ] {
        let r = app.call(&admin, "POST", &erase, Some(body.clone())).await;
        assert!(r.status.is_client_error(), "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{body}: {:?}", r.body);
    }
    let r = app
        .call(
            &admin,
            "POST",
            &app.t("/clients/not-an-id/erase"),
            Some(why.clone()),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "like every route's bad path id"
    );
    let unknown = app.t(&format!(
        "/clients/{}/erase",
        ward_proto::ObjectId::random()
    ));
    let r = app.call(&admin, "POST", &unknown, Some(why.clone())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The clinic keeps records five years: refused without an override reason.
    let mut policy = app.call(&admin, "GET", &app.t("/policy"), None).await.body;
    policy["records_retention_years"] = json!(5);
    let r = app
        .call(&admin, "PUT", &app.t("/policy"), Some(policy))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&admin, "POST", &erase, Some(why.clone())).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("retention_hold")),
        "{:?}",
        r.body
    );
    let ledger = app.call(&admin, "GET", &app.t("/erasures"), None).await;
    assert_eq!(ledger.body, json!([]), "a refused erasure records nothing");
    let r = app
        .call(
            &admin,
            "POST",
            &erase,
            Some(json!({"reason": "patient asked to be forgotten", "hold_override_reason": "DPO approved: no treatment given"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "complete");
    assert_eq!(r.body["hold_overridden"], true);
    assert_eq!(r.body["versions"], 1);
    // A retry answers the same entry; the ledger is admins' only.
    let again = app.call(&admin, "POST", &erase, Some(why.clone())).await;
    assert_eq!(again.body, r.body);
    let ledger = app.call(&admin, "GET", &app.t("/erasures"), None).await;
    assert_eq!(ledger.body.as_array().unwrap().len(), 1);
    let r = app.call(&desk, "GET", &app.t("/erasures"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Every role's devices are told; nothing more is stored for the client.
    for d in [&clinician, &desk, &admin] {
        let mine = app.call(d, "GET", &app.t("/me/clients"), None).await;
        assert_eq!(mine.body["erased"], json!([client.object.to_string()]));
    }
    let (note, note_env) = envelope(
        &app.tenant,
        &key,
        ward_proto::ObjectId::random(),
        ward_proto::Kind::Note,
        b"written offline",
    );
    let r = push(
        &app,
        &clinician,
        vec![item(&note, Some(client.object), &note_env)],
    )
    .await;
    assert_eq!(r.body[0]["status"], "rejected", "{:?}", r.body);
    let (again_client, env) = envelope(
        &app.tenant,
        &key,
        client.object,
        ward_proto::Kind::Client,
        b"client again",
    );
    let r = push(&app, &clinician, vec![item(&again_client, None, &env)]).await;
    assert_eq!(
        r.body[0]["status"], "rejected",
        "an erased client came back: {:?}",
        r.body
    );
    let r = app
        .call(
            &clinician,
            "POST",
            &app.t("/keys/clients"),
            Some(json!({"keys": [{"client_id": client.object, "generation": 1, "key": b64(&[7u8; 32])}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["registered"], json!([]));
    assert_eq!(r.body["refused"].as_array().unwrap().len(), 1);
    // The audit log says who erased and why, and nothing else of the client.
    let audit = app
        .call(&admin, "GET", &app.t("/audit?action=client.erase"), None)
        .await;
    let text = audit.body.to_string();
    assert!(text.contains("DPO approved"), "{text}");
}
