//! Audit and breach-scope API tests through the real Router: device audit-chain upload
//! (verification, idempotent re-upload, gaps, breaks, foreign events, rewritten history), the
//! admin audit view (filters, cursor pagination, CSV and JSON export, itself audited), the
//! breach-scope report (exactly the clients delivered to or created on a device, photos, last
//! unlock, wipe), per-client delivery records from push/pull, and refusals (wrong role, other
//! tenant, malformed input). The sync-and-report scenario also runs on the AWS adapter
//! against moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, b64};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_proto::audit::{AuditEvent, GENESIS, UploadedEvent};
use ward_proto::envelope::Envelope;
use ward_proto::sealed::{SealRequestKey, SealedKey};
use ward_proto::{DeviceId, Kind, ObjectId, ObjectRef, TenantId, TenantKey, VersionId};

// ---------------------------------------------------------------- helpers

async fn release_keys(app: &TestApp, d: &common::Device) -> Vec<TenantKey> {
    let req = SealRequestKey::generate().unwrap();
    let r = app
        .call(
            d,
            "POST",
            &app.t("/keys/release"),
            Some(json!({"ephemeral_public": b64(&req.public_key())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sealed: SealedKey = serde_json::from_value(r.body["sealed"].clone()).unwrap();
    let tenant: TenantId = app.tenant.parse().unwrap();
    let payload = req
        .open(&sealed, &ward_backend::api::keys::release_context(tenant))
        .unwrap();
    let epochs: Vec<u32> = serde_json::from_value(r.body["epochs"].clone()).unwrap();
    ward_proto::api::decode_release_payload(&payload, &epochs).unwrap()
}

fn item(app: &TestApp, key: &TenantKey, object: ObjectId, kind: Kind, client: ObjectId) -> Value {
    let o = ObjectRef {
        tenant: app.tenant.parse().unwrap(),
        object,
        version: VersionId::random(),
        kind,
    };
    let env = Envelope::seal_stated(o, common::draft_if_note(kind), key, b"secret clinical text")
        .unwrap();
    let client_id = (kind != Kind::Client).then_some(client);
    json!({"object_id": o.object, "version_id": o.version, "kind": kind as u8, "client_id": client_id, "envelope": b64(&env)})
}

/// Pushes a new client and `notes` notes of it from `d`; returns the client id.
async fn new_client(app: &TestApp, d: &common::Device, key: &TenantKey, notes: usize) -> ObjectId {
    let client = ObjectId::random();
    let mut objects = vec![item(app, key, client, Kind::Client, client)];
    for _ in 0..notes {
        objects.push(item(app, key, ObjectId::random(), Kind::Note, client));
    }
    let r = app
        .call(
            d,
            "POST",
            &app.t("/objects/push"),
            Some(json!({"objects": objects})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == "created"),
        "{:?}",
        r.body
    );
    client
}

async fn pull_all(app: &TestApp, d: &common::Device) -> usize {
    let r = app
        .call(d, "GET", &app.t("/objects/pull?after=0&limit=1000"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["objects"].as_array().unwrap().len()
}

/// A device's audit chain of `actions` (each with an optional client), seq from `from`.
fn chain(
    d: &common::Device,
    prev: (u64, [u8; 32]),
    at_ms: i64,
    actions: &[(&str, Option<ObjectId>)],
) -> Vec<(AuditEvent, [u8; 32])> {
    let (mut seq, mut hash) = prev;
    actions
        .iter()
        .map(|(action, client)| {
            seq += 1;
            let e = AuditEvent {
                seq,
                at_ms: at_ms + seq as i64,
                actor: d.user_id.clone(),
                device: d.device_id,
                action: (*action).into(),
                kind: client.map(|_| Kind::Note as u8),
                object: client.map(|_| ObjectId::random()),
                client: *client,
            };
            hash = e.chain_hash(&hash);
            (e, hash)
        })
        .collect()
}

fn upload_body(events: &[(AuditEvent, [u8; 32])]) -> Value {
    let events: Vec<UploadedEvent> = events
        .iter()
        .map(|(e, h)| UploadedEvent::new(e.clone(), h))
        .collect();
    json!({ "events": events })
}

async fn upload(
    app: &TestApp,
    d: &common::Device,
    events: &[(AuditEvent, [u8; 32])],
) -> common::Resp {
    app.call(
        d,
        "POST",
        &app.t("/audit/events"),
        Some(upload_body(events)),
    )
    .await
}

/// GET with a raw text body back (CSV).
async fn get_text(app: &TestApp, d: &common::Device, path: &str) -> (StatusCode, String, String) {
    let resp = app
        .router
        .clone()
        .oneshot(app.signed(d, "GET", path, None))
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF rows).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

async fn audit(app: &TestApp, admin: &common::Device, query: &str) -> Value {
    let r = app
        .call(admin, "GET", &app.t(&format!("/audit{query}")), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    r.body
}

fn actions(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------- chain upload

#[tokio::test]
async fn device_chain_upload_is_verified_idempotent_and_flags_gaps_and_breaks() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr Chain", true).await;
    let client = ObjectId::random();
    let c = chain(
        &clin,
        (0, GENESIS),
        app.now() - 86_400_000,
        &[
            ("unlock", None),
            ("view", Some(client)),
            ("view", Some(client)),
        ],
    );

    // A clean segment from the start of the chain.
    let r = upload(&app, &clin, &c).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["accepted"], 3);
    assert_eq!(r.body["duplicates"], 0);
    assert_eq!(r.body["flagged"], json!([]));
    assert_eq!(r.body["head_seq"], 3);
    // The same segment again (a lost answer): all duplicates, nothing new stored.
    let r = upload(&app, &clin, &c).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(0), json!(3))
    );

    // A gap: seq 4 never arrives, 5 and 6 do. Stored, flagged once.
    let rest = chain(
        &clin,
        (3, c[2].1),
        app.now(),
        &[
            ("view", Some(client)),
            ("export", Some(client)),
            ("view", None),
        ],
    );
    let r = upload(&app, &clin, &rest[1..]).await;
    assert_eq!(r.body["accepted"], 2, "{:?}", r.body);
    assert_eq!(r.body["flagged"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["flagged"][0]["seq"], 5);
    assert_eq!(r.body["flagged"][0]["flag"], "gap");
    assert_eq!(r.body["head_seq"], 6);
    // The missing seq 4 arrives late: stored, flagged "late".
    let r = upload(&app, &clin, &rest[..1]).await;
    assert_eq!(r.body["accepted"], 1, "{:?}", r.body);
    assert_eq!(r.body["flagged"][0]["flag"], "late");
    assert_eq!(r.body["head_seq"], 6);

    // An edited event (its hash no longer follows): a break, stored and flagged; the chain
    // continues from what the device sent.
    let mut more = chain(
        &clin,
        (6, rest[2].1),
        app.now(),
        &[("view", Some(client)), ("view", Some(client))],
    );
    more[0].0.action = "sign".into();
    let r = upload(&app, &clin, &more).await;
    assert_eq!(r.body["accepted"], 2, "{:?}", r.body);
    let flagged = r.body["flagged"].as_array().unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(
        (flagged[0]["seq"].clone(), flagged[0]["flag"].clone()),
        (json!(7), json!("break"))
    );

    // A rewritten past event (same seq, other content): a fork, recorded, not stored.
    let mut rewritten = c[1].clone();
    rewritten.1 = [9; 32];
    let r = upload(&app, &clin, &[rewritten]).await;
    assert_eq!(r.body["accepted"], 0, "{:?}", r.body);
    assert_eq!(r.body["flagged"][0]["flag"], "fork");

    // Another user's events uploaded from this device.
    let other = app.staff(&admin, "clinician", "Dr Other", true).await;
    let foreign = chain(&other, (8, more[1].1), app.now(), &[("view", Some(client))]);
    let r = upload(&app, &clin, &foreign).await;
    assert_eq!(r.body["flagged"][0]["flag"], "foreign", "{:?}", r.body);

    // The admin sees the device's events, flags and the server's chain alerts.
    let dev = format!("?device={}&order=asc&limit=1000", clin.device_id);
    let all = audit(&app, &admin, &dev).await;
    let device_events: Vec<&Value> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "device")
        .collect();
    assert_eq!(device_events.len(), 9, "{all:#}");
    let seqs: Vec<u64> = device_events
        .iter()
        .map(|e| e["chain"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 5, 6, 4, 7, 8, 9]);
    assert_eq!(device_events[3]["chain"]["flag"], "gap");
    assert_eq!(device_events[0]["action"], "unlock");
    assert_eq!(device_events[1]["client"], json!(client));
    let gaps = audit(
        &app,
        &admin,
        &format!("?action=audit.chain_gap&device={}", clin.device_id),
    )
    .await;
    assert_eq!(gaps["entries"].as_array().unwrap().len(), 2, "gap + late");
    let breaks = audit(&app, &admin, "?action=audit.chain_break").await;
    let targets: Vec<&str> = breaks["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), 3, "break, fork, foreign: {targets:?}");
    assert!(targets.iter().any(|t| t.contains("seq 7: break")));
    assert!(targets.iter().any(|t| t.contains("seq 2: fork")));
    assert!(targets.iter().any(|t| t.contains("seq 9: foreign")));
}

#[tokio::test]
async fn malformed_uploads_and_queries_get_json_4xx() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr Bad", true).await;
    let good = chain(
        &clin,
        (0, GENESIS),
        app.now(),
        &[("view", None), ("view", None)],
    );
    let up = |body: Value| {
        let app = &app;
        let clin = &clin;
        async move {
            app.call(clin, "POST", &app.t("/audit/events"), Some(body))
                .await
        }
    };
    let mut bad_hash = upload_body(&good);
    bad_hash["events"][0]["hash"] = json!("zz");
    let mut zero_seq = upload_body(&good);
    zero_seq["events"][0]["seq"] = json!(0);
    let reversed = upload_body(&[good[1].clone(), good[0].clone()]);
    let mut bad_action = upload_body(&good);
    bad_action["events"][0]["action"] = json!("=HYPERLINK(\"x\")");
    let mut bad_device = upload_body(&good);
    bad_device["events"][0]["device"] = json!("not-a-device");
    let many: Vec<_> = chain(&clin, (0, GENESIS), 0, &vec![("view", None); 501]);
    for (what, body) in [
        ("bad hash", bad_hash),
        ("seq 0", zero_seq),
        ("out of order", reversed),
        ("formula action", bad_action),
        ("bad device id", bad_device),
        ("too many", upload_body(&many)),
        ("no events field", json!({"evts": []})),
        ("not an object", json!([1, 2])),
        ("negative seq", json!({"events": [{"seq": -1}]})),
    ] {
        let r = up(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.body);
    }
    // Nothing was stored by any of them.
    let r = up(upload_body(&good)).await;
    assert_eq!(r.body["accepted"], 2);
    // An empty upload is fine.
    let r = up(json!({"events": []})).await;
    assert_eq!(
        (r.status, r.body["head_seq"].clone()),
        (StatusCode::OK, json!(2))
    );

    for q in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?device=xyz",
        "?client=xyz",
        "?since=yesterday",
        "?until=1.5",
        "?format=xml",
        "?order=up",
        "?after=zz",
        "?after=",
        "?action=a%20b",
        "?actor=%3Dcmd",
        "?color=red",
        "?limit=1&limit=2",
    ] {
        let r = app
            .call(&admin, "GET", &app.t(&format!("/audit{q}")), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
    }
    for q in ["?format=pdf", "?x=1"] {
        let p = app.t(&format!("/devices/{}/breach-scope{q}", clin.device_id));
        let r = app.call(&admin, "GET", &p, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
    }
    for dev in ["nope".to_string(), DeviceId::random().to_string()] {
        let r = app
            .call(
                &admin,
                "GET",
                &app.t(&format!("/devices/{dev}/breach-scope")),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{dev}: {:?}", r.body);
    }
}

// ---------------------------------------------------------------- audit view

#[tokio::test]
async fn audit_view_filters_paginates_and_exports_csv_and_json() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr, \"Quote\"", true).await;
    let keys = release_keys(&app, &clin).await;
    let t0 = app.now();
    let x = new_client(&app, &clin, &keys[0], 2).await;
    app.advance(60_000);
    let t1 = app.now();
    let y = new_client(&app, &clin, &keys[0], 1).await;
    app.advance(60_000);
    pull_all(&app, &clin).await;

    // Per-client records of the pushes and the pull.
    let created = audit(&app, &admin, "?action=client.create&order=asc").await;
    let e = created["entries"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0]["client"].clone(), e[0]["count"].clone()),
        (json!(x), json!(3))
    );
    assert_eq!(
        (e[1]["client"].clone(), e[1]["count"].clone()),
        (json!(y), json!(2))
    );
    assert_eq!(e[0]["device_id"], json!(clin.device_id));
    assert_eq!(e[0]["actor"], json!(clin.user_id));
    let delivered = audit(&app, &admin, &format!("?action=client.deliver&client={x}")).await;
    let e = delivered["entries"].as_array().unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["count"], 3);

    // Filters: client, actor, device, time.
    let about_x = audit(&app, &admin, &format!("?client={x}&order=asc")).await;
    assert_eq!(actions(&about_x), vec!["client.create", "client.deliver"]);
    let by_clin = audit(&app, &admin, &format!("?actor={}", clin.user_id)).await;
    assert!(
        by_clin["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == json!(clin.user_id))
    );
    let by_dev = audit(&app, &admin, &format!("?device={}", admin.device_id)).await;
    assert!(!by_dev["entries"].as_array().unwrap().is_empty());
    assert!(
        by_dev["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["device_id"] == json!(admin.device_id))
    );
    let window = audit(
        &app,
        &admin,
        &format!("?since={t1}&until={}&action=client.create", t1 + 1),
    )
    .await;
    assert_eq!(window["entries"].as_array().unwrap().len(), 1);
    assert_eq!(window["entries"][0]["client"], json!(y));
    let before = audit(&app, &admin, &format!("?until={t0}&action=client.create")).await;
    assert!(before["entries"].as_array().unwrap().is_empty());

    // Pagination: newest first by default, `after` continues, `next` is null at the end;
    // walking the whole log in pages of 2 sees every entry once, in order.
    let full = audit(&app, &admin, "?limit=1000").await;
    let all: Vec<String> = full["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_string())
        .collect();
    assert!(full["next"].is_null());
    for order in ["", "&order=asc"] {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let page = audit(&app, &admin, &format!("?limit=2{order}{after}")).await;
            let entries = page["entries"].as_array().unwrap();
            assert!(entries.len() <= 2);
            seen.extend(
                entries
                    .iter()
                    .map(|e| e["cursor"].as_str().unwrap().to_string()),
            );
            match page["next"].as_str() {
                Some(n) => after = format!("&after={}", n.replace('#', "%23")),
                None => break,
            }
        }
        // Every query is itself audited, so the log grew while paging: the first entries
        // listed above are still all there, each once.
        let mut expect = all.clone();
        if order.is_empty() {
            let tail: Vec<String> = seen.iter().filter(|c| all.contains(c)).cloned().collect();
            assert_eq!(tail, expect, "desc");
        } else {
            expect.reverse();
            assert_eq!(seen[..expect.len()], expect[..], "asc");
        }
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), seen.len(), "no entry twice");
    }

    // CSV: header, one row per entry, quoting of the actor's name-bearing fields.
    let (status, ctype, csv) = get_text(
        &app,
        &admin,
        &app.t(&format!("/audit?format=csv&client={x}&order=asc")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let rows = parse_csv(&csv);
    assert_eq!(
        rows[0],
        ward_backend::api::reports::AUDIT_CSV_HEADER
            .map(String::from)
            .to_vec()
    );
    assert_eq!(rows.len(), 3, "{csv}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    assert_eq!(rows[1][col("action")], "client.create");
    assert_eq!(rows[1][col("client_id")], x.to_string());
    assert_eq!(rows[1][col("count")], "3");
    assert_eq!(rows[2][col("action")], "client.deliver");
    assert!(rows[1][col("at")].ends_with('Z'));
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));

    // Exports are audited, with what was asked.
    let exports = audit(&app, &admin, "?action=audit.export&limit=1000").await;
    let targets: Vec<&str> = exports["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        targets
            .iter()
            .any(|t| t.starts_with("format=csv") && t.contains(&format!("client={x}"))),
        "{targets:?}"
    );
    assert!(
        exports["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == json!(admin.user_id))
    );
}

// ---------------------------------------------------------------- breach scope

async fn scope(app: &TestApp, admin: &common::Device, d: DeviceId) -> Value {
    let r = app
        .call(
            admin,
            "GET",
            &app.t(&format!("/devices/{d}/breach-scope")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Two clinicians each create a client and sync; the admin's report for each device lists
/// exactly the clients that device received or created. Photos when `photos`.
async fn breach_scope_scenario(app: TestApp, photos: bool) {
    let mut admin = app.admin().await;
    let a = app.staff(&admin, "clinician", "Dr A", true).await;
    let b = app.staff(&admin, "clinician", "Dr B", true).await;
    let fd = app
        .staff(&admin, "front_desk", "Desk, \"Front\"", true)
        .await;
    let keys = release_keys(&app, &a).await;
    let x = new_client(&app, &a, &keys[0], 2).await;
    let y = new_client(&app, &b, &keys[0], 1).await;
    app.advance(3_600_000);
    assert_eq!(pull_all(&app, &a).await, 3, "A sees only X");
    assert_eq!(pull_all(&app, &b).await, 2, "B sees only Y");
    // Front desk receives both clients' records (not the notes).
    assert_eq!(pull_all(&app, &fd).await, 2);

    let photo = ObjectId::random();
    if photos {
        // B photographs Y, then downloads it again.
        let o = ObjectRef {
            tenant: app.tenant.parse().unwrap(),
            object: photo,
            version: VersionId::random(),
            kind: Kind::PhotoContent,
        };
        let env = Envelope::seal(o, &keys[0], b"jpeg bytes").unwrap();
        let start = json!({"object_id": o.object, "version_id": o.version, "client_id": y, "size": env.len()});
        let plan = app
            .call(&b, "POST", &app.t("/uploads/start"), Some(start))
            .await;
        assert_eq!(plan.status, StatusCode::OK, "{:?}", plan.body);
        let url = plan.body["parts"][0]["url"].as_str().unwrap().to_string();
        let u = url::Url::parse(&url).unwrap();
        let pq = format!("{}?{}", u.path(), u.query().unwrap());
        let resp = app
            .router
            .clone()
            .oneshot(Request::put(pq).body(Body::from(env.clone())).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let done = json!({"object_id": o.object, "version_id": o.version});
        let r = app
            .call(&b, "POST", &app.t("/uploads/complete"), Some(done.clone()))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = app.call(&b, "POST", &app.t("/downloads"), Some(done)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        // A may not download B's client's photo: nothing delivered, nothing recorded.
        let r = app
            .call(
                &a,
                "POST",
                &app.t("/downloads"),
                Some(json!({"object_id": o.object, "version_id": o.version})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    // A reads X offline (and unlocked its vault), then uploads its chain.
    let unlock_at = app.now() + 5_000;
    let events = chain(
        &a,
        (0, GENESIS),
        unlock_at - 1,
        &[("unlock", None), ("view", Some(x))],
    );
    let r = upload(&app, &a, &events).await;
    assert_eq!(r.body["accepted"], 2, "{:?}", r.body);

    let ra = scope(&app, &admin, a.device_id).await;
    let clients = ra["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{ra:#}");
    let cx = &clients[0];
    assert_eq!(cx["client_id"], json!(x));
    assert_eq!(cx["versions_delivered"], 3);
    assert_eq!(cx["versions_created"], 3);
    assert_eq!(cx["photos_delivered"], 0);
    assert_eq!(cx["device_events"], 1);
    assert!(cx["first_delivered_ms"].as_i64().unwrap() >= app.now() - 10_000);
    assert_eq!(ra["device"]["device_id"], json!(a.device_id));
    assert_eq!(ra["device"]["user_name"], "Dr A");
    assert_eq!(ra["device"]["user_role"], "clinician");
    assert_eq!(ra["device"]["status"], "active");
    assert_eq!(ra["device"]["last_unlock_ms"], json!(unlock_at));
    assert!(ra["device"]["last_contact_ms"].as_i64().unwrap() > 0);
    assert_eq!(ra["totals"]["clients"], 1);
    assert_eq!(ra["totals"]["versions_delivered"], 3);
    assert_eq!(ra["chain"]["events"], 2);
    assert_eq!(ra["chain"]["head_seq"], 2);
    assert_eq!(ra["chain"]["flagged_events"], 0);
    assert_eq!(ra["complete"], true);
    assert!(ra["wipe"].is_null());

    let rb = scope(&app, &admin, b.device_id).await;
    let clients = rb["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{rb:#}");
    assert_eq!(clients[0]["client_id"], json!(y));
    assert_eq!(clients[0]["versions_delivered"], 2);
    assert_eq!(clients[0]["photos_created"], u64::from(photos));
    assert_eq!(clients[0]["photos_delivered"], u64::from(photos));
    assert!(rb["device"]["last_unlock_ms"].is_null());

    let rf = scope(&app, &admin, fd.device_id).await;
    let mut ids: Vec<String> = rf["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expect = vec![x.to_string(), y.to_string()];
    expect.sort();
    assert_eq!(ids, expect);
    assert_eq!(rf["totals"]["versions_created"], 0);

    // A device that never synced: no clients. (Approving needs a fresh passkey assertion.)
    app.step_up(&mut admin).await;
    let idle = app.staff(&admin, "clinician", "Dr Idle", true).await;
    let ri = scope(&app, &admin, idle.device_id).await;
    assert_eq!(ri["clients"], json!([]));
    assert_eq!(ri["totals"]["clients"], 0);

    // After revocation the report shows it.
    let r = app.step_up(&mut admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &admin,
            "POST",
            &app.t(&format!("/devices/{}/revoke", a.device_id)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ra = scope(&app, &admin, a.device_id).await;
    assert_eq!(ra["device"]["status"], "revoked");
    assert_eq!(ra["clients"].as_array().unwrap().len(), 1);
    // Revocation queues a signed wipe command: the report shows it, not yet confirmed.
    assert_eq!(ra["wipe"]["status"], "queued", "{:#}", ra["wipe"]);
    assert!(ra["wipe"]["command_id"].is_string());
    assert!(ra["wipe"]["receipt"].is_null());

    // CSV: one row per client, the device's columns on each.
    let (status, ctype, csv) = get_text(
        &app,
        &admin,
        &app.t(&format!(
            "/devices/{}/breach-scope?format=csv",
            fd.device_id
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(ctype.starts_with("text/csv"));
    let rows = parse_csv(&csv);
    assert_eq!(
        rows[0],
        ward_backend::api::reports::BREACH_CSV_HEADER
            .map(String::from)
            .to_vec()
    );
    assert_eq!(rows.len(), 3, "{csv}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let mut csv_ids: Vec<String> = rows[1..]
        .iter()
        .map(|r| r[col("client_id")].clone())
        .collect();
    csv_ids.sort();
    assert_eq!(csv_ids, expect);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[col("device_id")] == fd.device_id.to_string()
                && r[col("user_name")] == "Desk, \"Front\"")
    );
    let (_, _, csv) = get_text(
        &app,
        &admin,
        &app.t(&format!(
            "/devices/{}/breach-scope?format=csv",
            idle.device_id
        )),
    )
    .await;
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 2, "a device with no clients still gets its row");
    assert_eq!(rows[1][col("client_id")], "");

    // Every report is audited.
    let log = audit(&app, &admin, "?action=device.breach_scope&limit=100").await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn breach_scope_lists_exactly_the_clients_delivered_to_the_device() {
    breach_scope_scenario(TestApp::new().await, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breach_scope_on_the_aws_adapter_with_moto() {
    let app = TestApp::on_moto().await;
    breach_scope_scenario(app, false).await;
}

// ---------------------------------------------------------------- refusals

#[tokio::test]
async fn reports_refuse_wrong_roles_pending_devices_and_other_tenants() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr R", true).await;
    let fd = app.staff(&admin, "front_desk", "Desk R", true).await;
    let pending = app.staff(&admin, "clinician", "Dr Pending", false).await;
    let scope = app.t(&format!("/devices/{}/breach-scope", clin.device_id));
    for d in [&clin, &fd] {
        for path in [app.t("/audit"), app.t("/audit?format=csv"), scope.clone()] {
            let r = app.call(d, "GET", &path, None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    // A pending device can neither read reports nor upload a chain.
    let r = app.call(&pending, "GET", &app.t("/audit"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let c = chain(&pending, (0, GENESIS), app.now(), &[("unlock", None)]);
    let r = upload(&app, &pending, &c).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Unsigned: 401.
    let r = app
        .raw(Request::get(app.t("/audit")).body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Another tenant: the admin's session is not valid there, and a device of another tenant
    // is not found here.
    let other = ward_backend::tenants::create_tenant(&app.state.stores, "Other clinic", app.now())
        .await
        .unwrap();
    for path in [
        format!("/v1/tenants/{}/audit", other.id),
        format!(
            "/v1/tenants/{}/devices/{}/breach-scope",
            other.id, clin.device_id
        ),
    ] {
        let r = app.call(&admin, "GET", &path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let c = chain(&clin, (0, GENESIS), app.now(), &[("unlock", None)]);
    let r = app
        .call(
            &clin,
            "POST",
            &format!("/v1/tenants/{}/audit/events", other.id),
            Some(upload_body(&c)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Nothing of this tenant is visible from the other one's log.
    let theirs = app.state.stores.audit.recent(other.id, 100).await.unwrap();
    assert!(theirs.iter().all(|r| r.device_id != Some(clin.device_id)));
}

#[tokio::test]
async fn a_pull_page_records_one_entry_per_client_not_per_version() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let clin = app.staff(&admin, "clinician", "Dr Batch", true).await;
    let keys = release_keys(&app, &clin).await;
    // 40 clients, 1000 versions in all.
    let mut clients = Vec::new();
    for _ in 0..40 {
        clients.push(new_client(&app, &clin, &keys[0], 24).await);
    }
    let tenant: TenantId = app.tenant.parse().unwrap();
    let before = app
        .state
        .stores
        .audit
        .recent(tenant, 10_000)
        .await
        .unwrap()
        .len();
    assert_eq!(pull_all(&app, &clin).await, 1000);
    let after = app
        .state
        .stores
        .audit
        .recent(tenant, 10_000)
        .await
        .unwrap()
        .len();
    // One summary plus one entry per client (40), not one per version (1000).
    assert_eq!(after - before, 41);
    let delivered = audit(&app, &admin, "?action=client.deliver&limit=1000").await;
    let entries = delivered["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 40);
    assert!(entries.iter().all(|e| e["count"] == 25));
}
