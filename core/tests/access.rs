//! "My clients" through the sync engine's pull, against a small in-process HTTP server that
//! serves the feed filtered by the user's access and `/me/clients` like the backend does: a
//! client taken off the care team is dropped at the next pull, one re-added is pulled again
//! from the start (own versions included), a break-glass access shows on the client list, and
//! a photo upload the server refuses for a removed client does not stop the sync.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestVault;
use ward_core::clock::SystemClock;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::sync::{ApiClient, Engine, NoProgress, Session, SyncReport};
use ward_proto::api::{PullPage, PulledObject};
use ward_proto::people::{AccessVia, ClientAccess, MyClients};
use ward_proto::signing::DeviceKey;
use ward_proto::{ObjectId, VersionId};

/// Versions per page the fake server answers (small, so a pull takes several pages).
const PAGE: usize = 3;

struct Feed {
    /// Feed rows, in order, each marked whether this device pushed it.
    rows: Vec<(PulledObject, bool)>,
    access: MyClients,
    /// "after=N own=E" per pull, "me/clients" per access fetch, "uploads/start".
    log: Vec<String>,
}

fn query(path: &str, name: &str) -> u64 {
    path.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The status line and JSON body answering `path`.
fn answer(feed: &Mutex<Feed>, path: &str) -> (&'static str, String) {
    let mut f = feed.lock().unwrap();
    if path.ends_with("/me/clients") {
        f.log.push("me/clients".into());
        return ("200 OK", serde_json::to_string(&f.access).unwrap());
    }
    if path.ends_with("/uploads/start") {
        // As the backend answers a photo of a client off the user's care team.
        f.log.push("uploads/start".into());
        let body = r#"{"error":{"code":"forbidden","message":"not on this client's care team"}}"#;
        return ("403 Forbidden", body.into());
    }
    assert!(path.contains("/objects/pull?"), "unexpected request {path}");
    let (after, own) = (query(path, "after"), query(path, "exclude_own") == 1);
    f.log.push(format!("after={after} own={}", u8::from(own)));
    let mut objects = Vec::new();
    let mut next_after = after;
    for (o, mine) in f.rows.iter().filter(|(o, _)| o.seq > after) {
        if objects.len() == PAGE {
            break;
        }
        next_after = o.seq;
        if (own && *mine) || !o.client_id.is_some_and(|c| f.access.allows(c)) {
            continue;
        }
        objects.push(o.clone());
    }
    let has_more = f.rows.iter().any(|(o, _)| o.seq > next_after);
    let page = PullPage {
        objects,
        next_after,
        has_more,
        key_epoch: None,
        policy_tag: None,
        access_tag: (!has_more).then(|| f.access.tag()),
    };
    ("200 OK", serde_json::to_string(&page).unwrap())
}

/// Serves `feed` on a loopback port; returns its base URL.
fn serve(feed: Arc<Mutex<Feed>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            // The head, then as much body as it announces (read, so closing is clean).
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let body_len = |req: &[u8]| -> Option<usize> {
                let end = req.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
                let head = String::from_utf8_lossy(&req[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap_or(0));
                Some(end + len)
            };
            while body_len(&req).is_none_or(|total| req.len() < total) {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&req).into_owned();
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            let (status, body) = answer(&feed, &path);
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn team(clients: &[ObjectId]) -> MyClients {
    MyClients {
        erased: Vec::new(),
        all: false,
        clients: clients
            .iter()
            .map(|c| ClientAccess {
                key: Some(1),
                client_id: *c,
                via: AccessVia::Team,
                expires_at_ms: None,
            })
            .collect(),
    }
}

fn client(t: &TestVault, name: &str) -> ObjectId {
    t.vault
        .create_client(ClientInput {
            display_name: name.into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
        .parse()
        .unwrap()
}

fn note(t: &TestVault, client: ObjectId, text: &str) -> String {
    t.vault
        .create_note(&client.to_string(), NoteBody::Text { text: text.into() })
        .unwrap()
        .note_id
}

fn listed(t: &TestVault) -> Vec<(String, Option<i64>)> {
    let mut out: Vec<(String, Option<i64>)> = t
        .vault
        .list_clients()
        .unwrap()
        .into_iter()
        .map(|c| (c.client_id, c.break_glass_until_ms))
        .collect();
    out.sort();
    out
}
/// Acknowledges everything in the outbox, as a push would, and returns it as the server's
/// feed (in push order, every row this device's own).
fn pushed_feed(t: &TestVault) -> Vec<(PulledObject, bool)> {
    t.vault
        .with_unlocked(|ctx| {
            let items = ctx.outbox(100, usize::MAX)?;
            let acked: Vec<(ObjectId, VersionId)> = items
                .iter()
                .map(|i| (i.object.object, i.object.version))
                .collect();
            ctx.mark_synced(&acked)?;
            Ok(items)
        })
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            let o = PulledObject {
                seq: i as u64 + 1,
                object_id: it.object.object,
                version_id: it.object.version,
                kind: it.object.kind as u8,
                client_id: it.client,
                parent_version: it.parent,
                envelope: Some(URL_SAFE_NO_PAD.encode(&it.envelope)),
            };
            (o, true)
        })
        .collect()
}

/// A fake server holding `rows` for the user with `access`, a sync engine for `t` talking to
/// it, and a runtime to drive the engine.
fn setup(
    t: &TestVault,
    rows: Vec<(PulledObject, bool)>,
    access: MyClients,
) -> (Arc<Mutex<Feed>>, Engine, tokio::runtime::Runtime) {
    let feed = Arc::new(Mutex::new(Feed {
        rows,
        access,
        log: Vec::new(),
    }));
    let url = serve(feed.clone());
    let api = ApiClient::new(&url, t.vault.identity().tenant, Arc::new(SystemClock)).unwrap();
    let session = Session {
        device_id: t.vault.identity().device,
        session_id: "session".into(),
        token: zeroize::Zeroizing::new("token".into()),
        key: DeviceKey::generate().unwrap().0,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (feed, Engine::new(t.vault.clone(), api, session), rt)
}

fn take_log(feed: &Mutex<Feed>) -> Vec<String> {
    std::mem::take(&mut feed.lock().unwrap().log)
}

#[test]
fn the_pull_drops_a_removed_client_and_pulls_a_readded_one_again_from_the_start() {
    let t = TestVault::new();
    let ada = client(&t, "Ada");
    let bob = client(&t, "Bob");
    note(&t, ada, "ada's first visit");
    let bob_note = note(&t, bob, "bob's first visit");
    let bob_second = note(&t, bob, "bob's second visit");
    // The first keys this phone made for its clients (the server would hold them once
    // registered).
    let keys = t
        .vault
        .with_unlocked(|ctx| ctx.unregistered_client_keys())
        .unwrap();
    assert_eq!(keys.len(), 2);
    let rows = pushed_feed(&t);
    assert_eq!(rows.len(), 5);
    let bob_versions = rows
        .iter()
        .filter(|(o, _)| o.client_id == Some(bob))
        .count() as u64;
    let (feed, engine, rt) = setup(&t, rows, team(&[ada, bob]));
    let pull = || {
        let mut report = SyncReport::default();
        rt.block_on(engine.pull(&mut report, &NoProgress)).unwrap();
        (report, take_log(&feed))
    };
    let both = {
        let mut v = vec![(ada.to_string(), None), (bob.to_string(), None)];
        v.sort();
        v
    };

    // First access tag: fetched and stored; both clients are held from their start.
    let (r, log) = pull();
    assert_eq!(log, ["after=0 own=1", "me/clients"]);
    assert_eq!((r.pulled, r.clients_dropped, r.requests), (0, 0, 2));
    assert_eq!(listed(&t), both);

    // Nothing changed: one request.
    let (_, log) = pull();
    assert_eq!(log, ["after=5 own=1"]);

    // Bob is now held through break-glass only: nothing to drop or pull, the list shows it.
    let until = 1_700_000_900_000;
    {
        let mut f = feed.lock().unwrap();
        f.access = team(&[ada]);
        f.access.clients.push(ClientAccess {
            key: Some(1),
            client_id: bob,
            via: AccessVia::BreakGlass,
            expires_at_ms: Some(until),
        });
    }
    let (r, log) = pull();
    assert_eq!(log, ["after=5 own=1", "me/clients"]);
    assert_eq!(r.clients_dropped, 0);
    let mut expect = vec![(ada.to_string(), None), (bob.to_string(), Some(until))];
    expect.sort();
    assert_eq!(listed(&t), expect);

    // The break-glass ended: Bob is dropped at this contact.
    feed.lock().unwrap().access = team(&[ada]);
    let (r, log) = pull();
    assert_eq!(log, ["after=5 own=1", "me/clients"]);
    assert_eq!(r.clients_dropped, 1);
    assert_eq!(listed(&t), [(ada.to_string(), None)]);
    assert!(t.vault.get_note(&bob_note).is_err());
    assert_eq!(t.vault.held_clients().unwrap().synced, vec![ada]);

    // Bob is back on the team: the cursor went past his versions (and they are this
    // device's own), so the feed is pulled again from the start, own versions included. His
    // key went with his data; the server releases it again (this fake server does not hold
    // keys: the release is installed here, as the engine installs it; the real release is
    // covered end to end in tests/e2e).
    t.vault
        .with_unlocked(|ctx| ctx.install_client_keys(keys.clone()))
        .unwrap();
    feed.lock().unwrap().access = team(&[ada, bob]);
    let (r, log) = pull();
    assert_eq!(
        log,
        [
            "after=5 own=1",
            "me/clients",
            "after=0 own=0",
            "after=3 own=0"
        ]
    );
    assert_eq!((r.pulled, r.clients_dropped), (bob_versions, 0));
    assert_eq!(listed(&t), both);
    assert_eq!(
        t.vault.get_note(&bob_second).unwrap().body,
        NoteBody::Text {
            text: "bob's second visit".into()
        }
    );

    // Done: the next pull is an ordinary one again.
    let (r, log) = pull();
    assert_eq!(log, ["after=5 own=1"]);
    assert_eq!(r.pulled, 0);
    assert!(t.vault.verify_audit_chain().unwrap().is_ok());
    let drops = t
        .vault
        .audit_events(0, u32::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "client.drop")
        .count();
    assert_eq!(drops, 1);
}

#[test]
fn a_pull_from_the_start_cut_short_resumes_with_own_versions_at_the_next_sync() {
    let t = TestVault::new();
    let ada = client(&t, "Ada");
    let bob = client(&t, "Bob");
    note(&t, bob, "bob's visit");
    note(&t, bob, "bob's next visit");
    let keys = t
        .vault
        .with_unlocked(|ctx| ctx.unregistered_client_keys())
        .unwrap();
    let rows = pushed_feed(&t);
    let n = rows.len() as i64;
    let (feed, engine, rt) = setup(&t, rows, team(&[ada]));
    let mut report = SyncReport::default();
    // Access {ada}: Bob dropped.
    rt.block_on(engine.pull(&mut report, &NoProgress)).unwrap();
    assert_eq!(report.clients_dropped, 1);
    // Bob re-added: pulled again from the start, to the end (his key released again: this
    // fake server holds none, so it is installed as the engine would).
    t.vault
        .with_unlocked(|ctx| ctx.install_client_keys(keys.clone()))
        .unwrap();
    feed.lock().unwrap().access = team(&[ada, bob]);
    rt.block_on(engine.pull(&mut report, &NoProgress)).unwrap();
    assert_eq!(t.vault.sync_meta_i64("cursor").unwrap(), Some(n));
    assert_eq!(t.vault.sync_meta_i64("full_pull").unwrap(), Some(0));
    // Had the app been killed after the first page of that pull, the vault would hold this
    // state: the next sync goes on from that page with own versions, then pulls as usual.
    t.vault.set_sync_meta_i64("cursor", PAGE as i64).unwrap();
    t.vault.set_sync_meta_i64("full_pull", 1).unwrap();
    take_log(&feed);
    rt.block_on(engine.pull(&mut SyncReport::default(), &NoProgress))
        .unwrap();
    assert_eq!(take_log(&feed), [format!("after={PAGE} own=0")]);
    assert_eq!(t.vault.sync_meta_i64("full_pull").unwrap(), Some(0));
    rt.block_on(engine.pull(&mut SyncReport::default(), &NoProgress))
        .unwrap();
    assert_eq!(take_log(&feed), [format!("after={n} own=1")]);
}

#[test]
fn a_photo_upload_refused_for_a_removed_client_does_not_stop_the_sync() {
    let t = TestVault::new();
    let ada = client(&t, "Ada");
    let bob = client(&t, "Bob");
    let mut policy = t.vault.policy();
    policy.photo_consent_required = false;
    t.vault.set_policy(policy).unwrap();
    let img = ward_core::capture::fixture::jpeg_fixture(&Default::default());
    t.vault
        .capture_photo(&bob.to_string(), &img, Default::default(), None)
        .unwrap();
    // Everything but the photo's content reached the server before Bob left the team.
    let rows = pushed_feed(&t);
    let (feed, engine, rt) = setup(&t, rows, team(&[ada]));
    let mut report = SyncReport::default();
    rt.block_on(async {
        engine.upload_photos(&mut report, &NoProgress).await?;
        engine.pull(&mut report, &NoProgress).await
    })
    .unwrap();
    assert_eq!(
        take_log(&feed),
        ["uploads/start", "after=0 own=1", "me/clients"]
    );
    // Bob's synced data is gone; the photo content never uploaded stays, still to send.
    assert_eq!(report.clients_dropped, 1);
    assert_eq!(listed(&t), [(ada.to_string(), None)]);
    assert_eq!(t.vault.unsynced().unwrap().photos, 1);
    assert_eq!(std::fs::read_dir(t.dir().join("blobs")).unwrap().count(), 1);
}
