//! The isolation matrix: every authenticated route in the route table × (another tenant's
//! session, revoked device, expired session, missing signature, replayed signature, wrong role
//! or unapproved device) → 401/403/404 with nothing but a JSON error in the body (a revoked
//! device: 410 with its own signed wipe command besides the error, nothing else).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use serde_json::json;
use ward_backend::api::openapi::Access;

fn only_error(body: &serde_json::Value) -> bool {
    body.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("error"))
}

#[tokio::test]
async fn every_authenticated_route_refuses_every_bad_caller() {
    let app = TestApp::new().await;
    let mut admin = app.admin().await;
    let clinician = app.staff(&admin, "clinician", "Dr M", true).await;
    let pending = app.staff(&admin, "clinician", "Dr Pending", false).await;
    let victim = app.staff(&admin, "clinician", "Dr Revoked", true).await;
    assert_eq!(app.step_up(&mut admin).await.status, StatusCode::OK);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/revoke", victim.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A second real clinic on the same server, with its own admin and clinician.
    let other = app.other_clinic("Other clinic").await;
    let other_admin = other.admin().await;
    let other_clinician = other
        .staff(&other_admin, "clinician", "Dr Other", true)
        .await;
    let other_tenant = other
        .state
        .stores
        .tenants
        .get_tenant(other.tenant.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = common::release_keys(&app, &clinician).await.pop().unwrap();
    let client = common::push_client(&app, &clinician, &key).await.object;

    let routes: Vec<_> = ward_backend::api::routes()
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| {
            matches!(
                d.access,
                Access::Session | Access::Device | Access::Admin | Access::AdminStepUp
            )
        })
        .collect();
    assert!(routes.len() >= 13, "the matrix covers the route table");
    let path_for = |tpl: &str, tenant: &str| {
        tpl.replace("{tenant}", tenant)
            .replace("{device}", &clinician.device_id.to_string())
            .replace("{user}", &clinician.user_id)
            .replace("{session}", "no-such-session")
            .replace("{client}", &client.to_string())
            .replace("{grant}", "0000000000000-grant")
    };
    let body = Some(json!({}));
    let mut checked = 0;
    for d in &routes {
        let method = d.method.to_uppercase();
        let path = path_for(&d.path, &app.tenant);
        // Revoked device: told to wipe (its signed command and nothing else), or on the two
        // wipe endpoints refused for the empty body.
        let r = app.call(&victim, &method, &path, body.clone()).await;
        let wipe_path = path.contains("/wipe/");
        assert!(
            if wipe_path {
                r.status == StatusCode::BAD_REQUEST
            } else {
                r.status == StatusCode::GONE && r.body["error"]["code"] == "wipe_required"
            },
            "{method} {path} as revoked device: got {} {:?}",
            r.status,
            r.body
        );
        let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| *k == "error" || *k == "wipe"),
            "{method} {path} as revoked device leaked data: {:?}",
            r.body
        );
        if !wipe_path {
            let cmd: serde_json::Value =
                serde_json::from_str(r.body["wipe"]["command"].as_str().unwrap()).unwrap();
            assert_eq!(cmd["device"], victim.device_id.to_string());
        }
        checked += 1;
        let mut expect = |who: &str, r: common::Resp, allowed: &[StatusCode]| {
            assert!(
                allowed.contains(&r.status),
                "{method} {path} as {who}: got {} {:?}",
                r.status,
                r.body
            );
            assert!(
                only_error(&r.body),
                "{method} {path} as {who} leaked data: {:?}",
                r.body
            );
            checked += 1;
        };
        let unauth = [StatusCode::UNAUTHORIZED];
        // Another tenant's session on this tenant's routes, and this session on another tenant.
        let other_path = path_for(&d.path, &other_tenant.id.to_string());
        expect(
            "other tenant",
            app.call(&admin, &method, &other_path, body.clone()).await,
            &[StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND],
        );
        // The other clinic's own admin and clinician on this clinic's routes.
        for (who, d) in [
            ("other clinic's admin", &other_admin),
            ("other clinic's clinician", &other_clinician),
        ] {
            expect(
                who,
                app.call(d, &method, &path, body.clone()).await,
                &[StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND],
            );
        }
        // Missing signature (token only).
        let bare = Request::builder()
            .method(method.as_str())
            .uri(&path)
            .header("authorization", format!("Bearer {}", admin.token))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        expect("missing signature", app.raw(bare).await, &unauth);
        // Replayed signature: the second identical request is refused whatever the first got.
        let first = app.signed(&clinician, &method, &path, body.clone());
        let (parts, _) = first.into_parts();
        let build = || {
            let mut b = Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone());
            for (k, v) in &parts.headers {
                b = b.header(k, v);
            }
            b.body(Body::from(json!({}).to_string())).unwrap()
        };
        let _ = app.raw(build()).await;
        expect("replayed signature", app.raw(build()).await, &unauth);
        // The wipe endpoints: every identity without a pending wipe is refused alike.
        if wipe_path {
            for (who, caller) in [
                ("admin", &admin),
                ("clinician", &clinician),
                ("pending device", &pending),
            ] {
                let r = app.call(caller, &method, &path, body.clone()).await;
                expect(who, r, &[StatusCode::CONFLICT]);
            }
        }
        // Wrong role / unapproved device.
        match d.access {
            Access::Admin | Access::AdminStepUp => {
                expect(
                    "clinician",
                    app.call(&clinician, &method, &path, body.clone()).await,
                    &[StatusCode::FORBIDDEN],
                );
            }
            Access::Device => {
                expect(
                    "pending device",
                    app.call(&pending, &method, &path, body.clone()).await,
                    &[StatusCode::FORBIDDEN],
                );
            }
            _ => {}
        }
    }
    // Expired sessions, last (the clock jumps past every session's lifetime).
    app.advance(13 * 3600 * 1000);
    for d in &routes {
        let path = path_for(&d.path, &app.tenant);
        let r = app
            .call(&admin, &d.method.to_uppercase(), &path, body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{} {path} with an expired session",
            d.method
        );
        assert!(only_error(&r.body));
        checked += 1;
    }
    assert!(checked >= routes.len() * 7);
}
