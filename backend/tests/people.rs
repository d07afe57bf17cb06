//! Clinic people over the real router, on both adapters: front desk registers a client and
//! assigns the treating clinician; care-team add, remove and hand-over (served at once, or no
//! more at once); a person's second and replacement devices; sessions; roles and the last
//! admin; deactivation; break-glass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::http::StatusCode;
use common::{Device, TestApp, envelope, item, push, release_keys};
use serde_json::{Value, json};
use ward_proto::{Kind, ObjectId};

/// The client ids of `d`'s full pull from the start, and the page's access tag.
async fn pulled_clients(app: &TestApp, d: &Device) -> (Vec<String>, Option<String>) {
    let r = app
        .call(d, "GET", &app.t("/objects/pull?after=0&limit=1000"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut ids: Vec<String> = r.body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            if o["kind"] == Kind::Client as u8 {
                o["object_id"].as_str().unwrap().to_string()
            } else {
                o["client_id"].as_str().unwrap().to_string()
            }
        })
        .collect();
    ids.sort();
    ids.dedup();
    (ids, r.body["access_tag"].as_str().map(str::to_string))
}

/// Front desk registers a client with `team` in the push; the client id.
async fn register(app: &TestApp, desk: &Device, team: &[&Device]) -> ObjectId {
    let key = release_keys(app, desk).await.pop().unwrap();
    let id = ObjectId::random();
    let (o, env) = envelope(&app.tenant, &key, id, Kind::Client, b"client record");
    let mut it = item(&o, None, &env);
    it["team"] = json!(team.iter().map(|d| d.user_id.clone()).collect::<Vec<_>>());
    let r = push(app, desk, vec![it]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    id
}

/// A note of `client` pushed by `d`.
async fn note(app: &TestApp, d: &Device, client: ObjectId) -> Value {
    let key = release_keys(app, d).await.pop().unwrap();
    let (o, env) = envelope(&app.tenant, &key, ObjectId::random(), Kind::Note, b"note");
    push(app, d, vec![item(&o, Some(client), &env)]).await.body
}

async fn team_call(
    app: &TestApp,
    d: &Device,
    client: ObjectId,
    op: &str,
    body: Value,
) -> common::Resp {
    app.call(
        d,
        "POST",
        &app.t(&format!("/clients/{client}/team/{op}")),
        Some(body),
    )
    .await
}

async fn care_teams_are_managed_by_the_clinic(app: TestApp) {
    let admin = app.admin().await;
    let desk = app.staff(&admin, "front_desk", "Front Desk", true).await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let b = app.staff(&admin, "clinician", "Dr B", true).await;

    // Front desk registers a patient assigned to A, in one push.
    let client = register(&app, &desk, &[&a]).await;
    let c = client.to_string();
    assert_eq!(pulled_clients(&app, &a).await.0, vec![c.clone()]);
    let (b_before, tag_before) = pulled_clients(&app, &b).await;
    assert!(b_before.is_empty(), "B is not on the team");
    assert_eq!(note(&app, &b, client).await[0]["status"], "rejected");
    assert_eq!(note(&app, &a, client).await[0]["status"], "created");
    let r = app.call(&b, "GET", &app.t("/me/clients"), None).await;
    assert_eq!(r.body, json!({"all": false, "clients": []}));
    let r = app
        .call(&b, "GET", &app.t(&format!("/clients/{c}/team")), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "B may not see A's client's team"
    );

    // The admin adds B: B's next pull (from the start) has the client and A's note.
    let r = team_call(
        &app,
        &admin,
        client,
        "add",
        json!({"user_id": b.user_id, "reason": "covering"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    let (b_after, tag_after) = pulled_clients(&app, &b).await;
    assert_eq!(b_after, vec![c.clone()]);
    assert_ne!(
        tag_before, tag_after,
        "the access tag tells B's phone to refresh"
    );
    let r = app.call(&b, "GET", &app.t("/me/clients"), None).await;
    assert_eq!(r.body["clients"][0]["client_id"], c);
    assert_eq!(r.body["clients"][0]["via"], "team");

    // Bad input: duplicate, not a clinician, unknown user, unknown client, not a member.
    let dup = team_call(&app, &admin, client, "add", json!({"user_id": b.user_id})).await;
    assert_eq!(
        (dup.status, dup.body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("already_member"))
    );
    let r = team_call(
        &app,
        &admin,
        client,
        "add",
        json!({"user_id": desk.user_id}),
    )
    .await;
    assert_eq!(r.body["error"]["code"], "not_a_clinician");
    let r = team_call(
        &app,
        &admin,
        client,
        "add",
        json!({"user_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = team_call(
        &app,
        &admin,
        ObjectId::random(),
        "add",
        json!({"user_id": b.user_id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = team_call(&app, &admin, client, "add", json!({"user": 1})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A clinician on the team may not manage it unless the clinic policy says so.
    let r = team_call(&app, &a, client, "remove", json!({"user_id": b.user_id})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Removal: B is refused at once and the access tag changes again.
    let r = team_call(
        &app,
        &desk,
        client,
        "remove",
        json!({"user_id": b.user_id, "reason": "cover ended"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (b_gone, tag_gone) = pulled_clients(&app, &b).await;
    assert!(b_gone.is_empty());
    assert_ne!(tag_gone, tag_after);
    assert_eq!(note(&app, &b, client).await[0]["status"], "rejected");
    let r = team_call(
        &app,
        &admin,
        client,
        "remove",
        json!({"user_id": b.user_id}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_a_member"))
    );

    // Hand-over A → B in one action: B reads the client, A no longer does.
    let r = team_call(
        &app,
        &desk,
        client,
        "handover",
        json!({"from_user_id": a.user_id, "to_user_id": b.user_id, "reason": "A on leave"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![b.user_id.as_str()]);
    assert!(pulled_clients(&app, &a).await.0.is_empty());
    assert_eq!(pulled_clients(&app, &b).await.0, vec![c.clone()]);
    // A retry of the same hand-over answers the team as it is.
    let r = team_call(
        &app,
        &desk,
        client,
        "handover",
        json!({"from_user_id": a.user_id, "to_user_id": b.user_id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The caseloads say so.
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/users/{}/caseload", b.user_id)),
            None,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app
        .call(
            &a,
            "GET",
            &app.t(&format!("/users/{}/caseload", b.user_id)),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a clinician sees only their own caseload"
    );

    // Every change is audited with who, whom, which client and why.
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/audit?client={c}&order=asc")),
            None,
        )
        .await;
    let actions: Vec<(String, String)> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("team."))
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        actions.len(),
        4,
        "{actions:?}: the retried hand-over changed nothing"
    );
    assert_eq!(
        actions[0],
        (
            "team.add".into(),
            format!("{}: assigned at registration", a.user_id)
        )
    );
    assert_eq!(
        actions[1],
        ("team.add".into(), format!("{}: covering", b.user_id))
    );
    assert_eq!(actions[2].0, "team.remove");
    assert!(actions[3].1.ends_with("A on leave"));

    // With the policy, a team member may manage the team.
    let mut admin = admin;
    app.step_up(&mut admin).await;
    let mut policy = app.call(&admin, "GET", &app.t("/policy"), None).await.body;
    policy["team_members_manage"] = json!(true);
    let r = app
        .call(&admin, "PUT", &app.t("/policy"), Some(policy))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = team_call(&app, &b, client, "add", json!({"user_id": a.user_id})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn care_teams_are_managed_by_the_clinic_embedded() {
    care_teams_are_managed_by_the_clinic(TestApp::new().await).await;
}

#[tokio::test]
async fn care_teams_are_managed_by_the_clinic_on_moto() {
    care_teams_are_managed_by_the_clinic(TestApp::on_moto().await).await;
}

#[tokio::test]
async fn a_bad_assignment_at_registration_stores_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let other_desk = app.staff(&admin, "front_desk", "Desk 2", true).await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let key = release_keys(&app, &desk).await.pop().unwrap();
    let (o, env) = envelope(&app.tenant, &key, ObjectId::random(), Kind::Client, b"c");
    let mut it = item(&o, None, &env);
    it["team"] = json!([other_desk.user_id]);
    let r = push(&app, &desk, vec![it]).await;
    assert_eq!(r.body[0]["status"], "rejected");
    assert!(
        r.body[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a clinician")
    );
    // A clinician may not name colleagues unless team members manage teams.
    let key = release_keys(&app, &a).await.pop().unwrap();
    let (o, env) = envelope(&app.tenant, &key, ObjectId::random(), Kind::Client, b"c");
    let mut it = item(&o, None, &env);
    it["team"] = json!([a.user_id]);
    assert_eq!(push(&app, &a, vec![it]).await.body[0]["status"], "rejected");
    // `team` on a note is refused.
    let client = register(&app, &desk, &[&a]).await;
    let (o, env) = envelope(&app.tenant, &key, ObjectId::random(), Kind::Note, b"n");
    let mut it = item(&o, Some(client), &env);
    it["team"] = json!([a.user_id]);
    assert_eq!(push(&app, &a, vec![it]).await.body[0]["status"], "rejected");
}

async fn a_person_has_several_devices(app: TestApp) {
    let mut admin = app.admin().await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let c1 = register(&app, &desk, &[&a]).await;
    let c2 = register(&app, &desk, &[&a]).await;

    // The admin issues a device invite bound to A; A's replacement phone enrolls as A.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", a.user_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["user_id"], a.user_id);
    let new_phone = app
        .enroll(r.body["code"].as_str().unwrap(), "ignored name")
        .await;
    assert_eq!(
        new_phone.user_id, a.user_id,
        "the same person, not a new user"
    );
    assert_eq!(
        app.device_status(&admin, &new_phone.device_id.to_string())
            .await,
        "pending"
    );
    let r = app
        .call(&new_phone, "GET", &app.t("/objects/pull"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "pending until approved");
    app.step_up(&mut admin).await;
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/approve", new_phone.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut want = vec![c1.to_string(), c2.to_string()];
    want.sort();
    assert_eq!(
        pulled_clients(&app, &new_phone).await.0,
        want,
        "every client of A's"
    );

    // The people list shows A once, with both devices and their sessions.
    let r = app.call(&admin, "GET", &app.t("/users"), None).await;
    let people = r.body.as_array().unwrap();
    assert_eq!(people.len(), 3);
    let pa = people.iter().find(|p| p["user_id"] == a.user_id).unwrap();
    assert_eq!(pa["display_name"], "Dr A");
    assert_eq!(pa["devices"].as_array().unwrap().len(), 2);
    assert_eq!(pa["sessions"].as_array().unwrap().len(), 2);

    // The old phone is revoked (and told to wipe) as before; the person keeps everything.
    app.revoke(&mut admin, &a).await;
    let r = app.call(&a, "GET", &app.t("/objects/pull"), None).await;
    assert_eq!(r.body["error"]["code"], "wipe_required");
    assert_eq!(pulled_clients(&app, &new_phone).await.0, want);

    // A user starts adding a device of their own from a signed-in one.
    let r = app
        .call(&new_phone, "POST", &app.t("/me/device-invites"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tablet = app.enroll(r.body["code"].as_str().unwrap(), "x").await;
    assert_eq!(tablet.user_id, a.user_id);
    assert_eq!(
        app.device_status(&admin, &tablet.device_id.to_string())
            .await,
        "pending"
    );
    // A device invite is single-use like any invite.
    let r = app
        .post(
            &app.t("/enroll/start"),
            json!({"invite_code": r.body["code"], "user_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Unknown user → 404.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", uuid::Uuid::new_v4())),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_person_has_several_devices_embedded() {
    a_person_has_several_devices(TestApp::new().await).await;
}

#[tokio::test]
async fn a_person_has_several_devices_on_moto() {
    a_person_has_several_devices(TestApp::on_moto().await).await;
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_by_one() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut a = app.staff(&admin, "clinician", "Dr A", true).await;
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/users/{}/sessions", a.user_id)),
            None,
        )
        .await;
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["device_id"], a.device_id.to_string());
    assert_eq!(list[0]["console"], false);
    let sid = list[0]["session_id"].as_str().unwrap().to_string();
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/sessions/{sid}/end", a.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&a, "GET", &app.t("/me"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the session ended");
    // The device was not revoked: its person signs in again.
    assert_eq!(app.login(&mut a).await.status, StatusCode::OK);
    assert_eq!(
        app.call(&a, "GET", &app.t("/me"), None).await.status,
        StatusCode::OK
    );
    let other = app.staff(&admin, "clinician", "Dr B", true).await;
    let r = app
        .call(
            &other,
            "POST",
            &app.t(&format!(
                "/devices/{}/sessions/{}/end",
                a.device_id, a.session_id
            )),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another clinician's session is not theirs to end"
    );
    let r = app
        .call(
            &other,
            "GET",
            &app.t(&format!("/users/{}/sessions", a.user_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn console_sessions_end_when_idle_and_at_their_limit() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.advance(6 * 60 * 1000);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", admin.user_id)),
            None,
        )
        .await;
    // An admin's device invite needs a step-up.
    assert_eq!(r.body["error"]["code"], "step_up_required");
    let mut admin = admin;
    app.step_up(&mut admin).await;
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", admin.user_id)),
            None,
        )
        .await;
    let browser = app
        .enroll_as(r.body["code"].as_str().unwrap(), "Console", "browser")
        .await;
    app.step_up(&mut admin).await;
    app.call(
        &admin,
        "POST",
        &app.t(&format!("/devices/{}/approve", browser.device_id)),
        None,
    )
    .await;
    // Active use keeps it alive past the idle timeout (15 min by default)…
    for _ in 0..4 {
        app.advance(10 * 60 * 1000);
        let r = app.call(&browser, "GET", &app.t("/devices"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // …16 idle minutes end it, with its own code.
    app.advance(16 * 60 * 1000);
    let r = app.call(&browser, "GET", &app.t("/devices"), None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("session_expired"))
    );
    // A phone session is not a console session: the same idle time is fine.
    assert_eq!(
        app.call(&admin, "GET", &app.t("/me"), None).await.status,
        StatusCode::OK
    );
    // The absolute limit (the clinic sets 2 h): a busy console session still ends then.
    assert_eq!(app.login(&mut admin).await.status, StatusCode::OK);
    let mut policy = app.call(&admin, "GET", &app.t("/policy"), None).await.body;
    policy["console_session_hours"] = json!(2);
    let r = app
        .call(&admin, "PUT", &app.t("/policy"), Some(policy))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut browser = browser;
    assert_eq!(app.login(&mut browser).await.status, StatusCode::OK);
    for i in 0..(3 * 6) {
        app.advance(10 * 60 * 1000);
        let r = app.call(&browser, "GET", &app.t("/me"), None).await;
        if r.status != StatusCode::OK {
            assert_eq!(r.body["error"]["code"], "session_expired");
            assert!((11..=12).contains(&i), "ended after {} min", (i + 1) * 10);
            return;
        }
    }
    panic!("a console session outlived its absolute limit");
}

async fn roles_and_offboarding(app: TestApp) {
    let mut admin = app.admin().await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let client = register(&app, &desk, &[&a]).await;

    // Without a fresh step-up (enrollment counts as one for five minutes): refused.
    let path = app.t(&format!("/users/{}/role", a.user_id));
    app.advance(6 * 60 * 1000);
    let r = app
        .call(&admin, "POST", &path, Some(json!({"role": "front_desk"})))
        .await;
    assert_eq!(r.body["error"]["code"], "step_up_required");
    // The last admin cannot demote or deactivate themself.
    app.step_up(&mut admin).await;
    let own = app.t(&format!("/users/{}/role", admin.user_id));
    let r = app
        .call(&admin, "POST", &own, Some(json!({"role": "clinician"})))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("last_admin"))
    );
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/deactivate", admin.user_id)),
            Some(json!({"reason": "leaving"})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "last_admin");
    let r = app
        .call(&admin, "POST", &path, Some(json!({"role": "nurse"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A role change ends the person's sessions; their next sign-in carries the new role.
    let r = app
        .call(&admin, "POST", &path, Some(json!({"role": "front_desk"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["role"], "front_desk");
    assert_eq!(
        app.call(&a, "GET", &app.t("/me"), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut a = a;
    assert_eq!(app.login(&mut a).await.body["role"], "front_desk");
    let r = app
        .call(&admin, "POST", &path, Some(json!({"role": "clinician"})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.login(&mut a).await.body["role"], "clinician");

    // Deactivation: every device revoked and told to wipe, no login, no team, history kept.
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/deactivate", a.user_id)),
            Some(json!({"reason": ""})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "reason_required");
    // A device invite issued before the deactivation enrolls nothing after it.
    let pending_invite = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", a.user_id)),
            None,
        )
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let deactivate = app.t(&format!("/users/{}/deactivate", a.user_id));
    let r = app
        .call(
            &admin,
            "POST",
            &deactivate,
            Some(json!({"reason": "left the clinic"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["devices_revoked"], 1);
    assert_eq!(r.body["teams_left"], 1);
    let first_at = r.body["deactivated_at_ms"].clone();
    let r = app.call(&a, "GET", &app.t("/objects/pull"), None).await;
    assert_eq!(
        r.body["error"]["code"], "wipe_required",
        "wiped at next contact"
    );
    assert_eq!(
        app.login(&mut a).await.status,
        StatusCode::UNAUTHORIZED,
        "no sign-in again"
    );
    let r = app
        .post(
            &app.t("/enroll/start"),
            json!({"invite_code": pending_invite, "user_name": "x"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "no new device for a leaver"
    );
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/clients/{client}/team")),
            None,
        )
        .await;
    assert!(r.body["members"].as_array().unwrap().is_empty());
    // A retry answers the same deactivation and changes nothing more.
    let r = app
        .call(
            &admin,
            "POST",
            &deactivate,
            Some(json!({"reason": "left the clinic"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (
            r.body["deactivated_at_ms"].clone(),
            r.body["devices_revoked"].clone()
        ),
        (first_at, json!(0))
    );
    // The person stays listed (history), deactivated; no device invite for them.
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/users/{}", a.user_id)),
            None,
        )
        .await;
    assert!(r.body["deactivated_at_ms"].is_i64());
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/users/{}/device-invites", a.user_id)),
            None,
        )
        .await;
    assert_eq!(r.body["error"]["code"], "user_deactivated");
    let r = team_call(&app, &admin, client, "add", json!({"user_id": a.user_id})).await;
    assert_eq!(r.body["error"]["code"], "user_deactivated");
}

#[tokio::test]
async fn roles_and_offboarding_embedded() {
    roles_and_offboarding(TestApp::new().await).await;
}

#[tokio::test]
async fn roles_and_offboarding_on_moto() {
    roles_and_offboarding(TestApp::on_moto().await).await;
}

async fn break_glass(app: TestApp) {
    let mut admin = app.admin().await;
    let desk = app.staff(&admin, "front_desk", "Desk", true).await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let b = app.staff(&admin, "clinician", "Dr B", true).await;
    let client = register(&app, &desk, &[&a]).await;
    let path = app.t(&format!("/clients/{client}/break-glass"));
    let r = app
        .call(&b, "POST", &path, Some(json!({"reason": "urgent"})))
        .await;
    assert_eq!(r.body["error"]["code"], "reason_required");
    let r = app
        .call(
            &a,
            "POST",
            &path,
            Some(json!({"reason": "I am on the team already"})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "already_member");
    let r = app
        .call(
            &b,
            "POST",
            &app.t(&format!("/clients/{}/break-glass", ObjectId::random())),
            Some(json!({"reason": "patient collapsed in clinic"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app
        .call(
            &b,
            "POST",
            &path,
            Some(json!({"reason": "patient collapsed in clinic"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let grant = r.body["grant_id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["expires_at_ms"].as_i64().unwrap() - r.body["granted_at_ms"].as_i64().unwrap(),
        60 * 60 * 1000
    );
    assert_eq!(
        pulled_clients(&app, &b).await.0,
        vec![client.to_string()],
        "granted at once"
    );
    let r = app.call(&b, "GET", &app.t("/me/clients"), None).await;
    assert_eq!(r.body["clients"][0]["via"], "break_glass");

    // The admins see the alert (who, which client, why, when) and acknowledge it.
    let r = app.call(&admin, "GET", &app.t("/break-glass"), None).await;
    let alert = &r.body[0];
    assert_eq!(
        (alert["display_name"].clone(), alert["reason"].clone()),
        (json!("Dr B"), json!("patient collapsed in clinic"))
    );
    assert_eq!(alert["client_id"], client.to_string());
    assert!(alert["acknowledged_at_ms"].is_null());
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/break-glass/{grant}/acknowledge")),
            None,
        )
        .await;
    assert_eq!(r.body["acknowledged_by"], admin.user_id);
    assert_eq!(
        app.call(&b, "GET", &app.t("/break-glass"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .call(
            &admin,
            "GET",
            &app.t(&format!("/audit?action=break_glass.grant&client={client}")),
            None,
        )
        .await;
    assert_eq!(
        r.body["entries"][0]["target"],
        "patient collapsed in clinic"
    );

    // It ends by itself.
    app.advance(61 * 60 * 1000);
    let mut b = b;
    assert_eq!(app.login(&mut b).await.status, StatusCode::OK);
    assert!(pulled_clients(&app, &b).await.0.is_empty(), "expired");
    assert_eq!(note(&app, &b, client).await[0]["status"], "rejected");

    // The clinic can switch it off.
    app.step_up(&mut admin).await;
    let mut policy = app.call(&admin, "GET", &app.t("/policy"), None).await.body;
    policy["break_glass_minutes"] = json!(0);
    assert_eq!(
        app.call(&admin, "PUT", &app.t("/policy"), Some(policy))
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            &b,
            "POST",
            &path,
            Some(json!({"reason": "patient collapsed again"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("break_glass_disabled"))
    );
}

#[tokio::test]
async fn break_glass_embedded() {
    break_glass(TestApp::new().await).await;
}

#[tokio::test]
async fn break_glass_on_moto() {
    break_glass(TestApp::on_moto().await).await;
}
