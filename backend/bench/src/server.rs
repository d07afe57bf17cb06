//! Push/pull throughput and latency against a real `ward-server` (embedded store on disk) over
//! HTTP on 127.0.0.1, with `GET /healthz` under the same load generator as the baseline.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use ward_proto::{Envelope, Kind, ObjectId, ObjectRef, TenantId, TenantKey, VersionId};

use crate::http::{self, HttpClient};
use crate::{Options, fmt_ms, percentile};

/// Plaintext of one benchmark note (~1 KB, like a short clinical note).
const NOTE_BYTES: usize = 1000;

/// A running `ward-server`, killed on drop.
struct Server {
    child: Child,
    base: String,
    origin: String,
    tenant: String,
    setup_code: String,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts `ward-server` on a free port with its data in `data_dir` and reads the tenant id and
/// setup code from its banner.
async fn start_server(bin: &Path, data_dir: &Path) -> Result<Server> {
    let port = free_port()?;
    let mut child = Command::new(bin)
        .env("WARD_DATA_DIR", data_dir)
        .env("WARD_PORT", port.to_string())
        .env_remove("WARD_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut tenant = None;
    let mut code = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while tenant.is_none() || code.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .context("ward-server printed no setup banner within 30 s")??
            .context("ward-server exited before printing its setup banner")?;
        if let Some(rest) = line.split("(tenant ").nth(1) {
            tenant = rest.split(')').next().map(str::to_string);
        }
        if let Some(c) = line.split("(valid 24 h): ").nth(1) {
            code = Some(c.trim().to_string());
        }
    }
    // Keep draining its stdout (logs) so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        origin: format!("http://localhost:{port}"),
        tenant: tenant.context("no tenant id in the banner")?,
        setup_code: code.context("no setup code in the banner")?,
    })
}

/// Result of one load phase.
struct Phase {
    name: String,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    objects_per_request: usize,
    wall: Duration,
    lat: Vec<Duration>,
}

impl Phase {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    fn p(&self, q: f64) -> Duration {
        percentile(&self.lat, q)
    }

    fn row(&self) {
        let objects = if self.objects_per_request > 0 {
            format!("{:.0}", self.rps() * self.objects_per_request as f64)
        } else {
            "–".into()
        };
        println!(
            "| {} | {} | {:.0} | {objects} | {} | {} | {} | {} |",
            self.name,
            self.requests,
            self.rps(),
            fmt_ms(self.p(0.50)),
            fmt_ms(self.p(0.99)),
            fmt_ms(self.lat.last().copied().unwrap_or_default()),
            self.errors,
        );
    }
}

type MakeRequest = dyn Fn(u64) -> Result<Request<Full<Bytes>>> + Send + Sync;
type CheckBody = fn(&[u8]) -> bool;

/// Runs `concurrency` tasks, each sending one request after the other, until `max_requests`
/// were issued or `max_time` elapsed. Building (and signing) a request is not timed; the
/// latency is send → last byte of the response.
async fn load(
    name: &str,
    client: &HttpClient,
    opts: &Options,
    max_requests: u64,
    objects_per_request: usize,
    make: Arc<MakeRequest>,
    check: CheckBody,
) -> Result<Phase> {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + opts.phase_time;
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency {
        let (client, make, issued) = (client.clone(), make.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= max_requests || Instant::now() >= stop {
                    break;
                }
                let req = make(i)?;
                let t0 = Instant::now();
                let outcome = http::send(&client, req).await;
                lat.push(t0.elapsed());
                let failure = match outcome {
                    Ok((StatusCode::OK, body)) if check(&body) => None,
                    Ok((status, body)) => Some(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    )),
                    Err(e) => Some(format!("{e:#}")),
                };
                if let Some(f) = failure {
                    errors += 1;
                    first_error.get_or_insert(f);
                }
            }
            anyhow::Ok((lat, errors, first_error))
        }));
    }
    let mut phase = Phase {
        name: name.to_string(),
        requests: 0,
        errors: 0,
        first_error: None,
        objects_per_request,
        wall: Duration::ZERO,
        lat: Vec::new(),
    };
    for t in tasks {
        let (lat, errors, first_error) = t.await??;
        phase.lat.extend(lat);
        phase.errors += errors;
        if phase.first_error.is_none() {
            phase.first_error = first_error;
        }
    }
    phase.wall = start.elapsed();
    phase.requests = phase.lat.len();
    phase.lat.sort();
    if let Some(e) = &phase.first_error {
        eprintln!("{name}: {} failed requests, first: {e}", phase.errors);
    }
    Ok(phase)
}

fn ok_any(_: &[u8]) -> bool {
    true
}

/// Every pushed version must come back `created` (no rejection, conflict or duplicate).
fn all_created(body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    !has(b"\"rejected\"") && !has(b"\"conflict\"") && !has(b"\"duplicate\"")
}

/// A pull page must be a page: at least one object.
fn non_empty_page(body: &[u8]) -> bool {
    body.windows(12).any(|w| w == b"\"object_id\":")
}

/// Seals pushable note versions of `client` under `key` (the server only checks the header's
/// binding to tenant, object, version and kind; it never sees the tenant key).
fn push_body(tenant: TenantId, key: &TenantKey, client: ObjectId, notes: usize) -> Result<Vec<u8>> {
    let mut objects = Vec::with_capacity(notes);
    let mut text = vec![b'n'; NOTE_BYTES];
    for n in 0..notes {
        let object = ObjectId::random();
        let version = VersionId::random();
        let r = ObjectRef {
            tenant,
            object,
            version,
            kind: Kind::Note,
        };
        text[..8].copy_from_slice(&(n as u64).to_le_bytes());
        let env = Envelope::seal_note(r, ward_proto::NoteState::Draft, key, &text)
            .map_err(|e| anyhow!("sealing: {e}"))?;
        objects.push(json!({
            "object_id": object,
            "version_id": version,
            "kind": Kind::Note as u8,
            "client_id": client,
            "envelope": URL_SAFE_NO_PAD.encode(&env),
        }));
    }
    Ok(serde_json::to_vec(&json!({ "objects": objects }))?)
}

/// Median time of one small SQLite commit (WAL, synchronous=FULL: an fsync each) on the disk
/// of `dir`, one after the other: the storage floor under the embedded store, which runs every
/// storage call as its own transaction on one connection.
fn commit_floor(dir: &Path) -> Result<Duration> {
    let tmp = tempfile::tempdir_in(dir)?;
    let conn = rusqlite::Connection::open(tmp.path().join("floor.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
    let body = vec![7u8; 1500];
    let mut times = Vec::with_capacity(500);
    for _ in 0..500 {
        let t0 = Instant::now();
        conn.execute("INSERT INTO t (body) VALUES (?1)", [&body])?;
        times.push(t0.elapsed());
    }
    times.sort();
    Ok(percentile(&times, 0.5))
}

/// Runs the push/pull benchmark against `bin` (a release `ward-server`).
pub async fn run(bin: &Path, data_root: &Path, opts: &Options) -> Result<()> {
    let data = tempfile::tempdir_in(data_root)?;
    println!(
        "\n## Push/pull over HTTP against ward-server (embedded store, data in {})\n",
        data_root.display()
    );
    let floor_commit = commit_floor(data_root)?;
    let server = start_server(bin, data.path()).await?;
    let client = http::client();
    let session = Arc::new(
        http::enroll_admin(
            &client,
            &server.base,
            &server.origin,
            &server.tenant,
            &server.setup_code,
        )
        .await?,
    );
    let tenant: TenantId = server
        .tenant
        .parse()
        .map_err(|_| anyhow!("tenant id {:?} is not a UUID", server.tenant))?;
    let key = Arc::new(TenantKey::generate(1).map_err(|e| anyhow!("tenant key: {e}"))?);
    let base: Arc<str> = server.base.clone().into();
    let push_path: Arc<str> = format!("/v1/tenants/{tenant}/objects/push").into();

    // One client record the notes belong to.
    let client_id = ObjectId::random();
    let version = VersionId::random();
    let r = ObjectRef {
        tenant,
        object: client_id,
        version,
        kind: Kind::Client,
    };
    let env = Envelope::seal(r, key.as_ref(), b"{\"name\":\"Bench Client\"}")
        .map_err(|e| anyhow!("sealing: {e}"))?;
    let body = serde_json::to_vec(&json!({"objects": [{
        "object_id": client_id, "version_id": version, "kind": Kind::Client as u8,
        "envelope": URL_SAFE_NO_PAD.encode(&env),
    }]}))?;
    let (status, resp) = http::send(
        &client,
        session.signed(&base, Method::POST, &push_path, body)?,
    )
    .await?;
    if status != StatusCode::OK || !all_created(&resp) {
        bail!(
            "pushing the client record: {status}: {}",
            String::from_utf8_lossy(&resp)
        );
    }

    let healthz: Arc<MakeRequest> = {
        let url = format!("{base}/healthz");
        Arc::new(move |_| Ok(Request::get(url.as_str()).body(Full::new(Bytes::new()))?))
    };
    let push = |notes: usize| -> Arc<MakeRequest> {
        let (session, key, base, path) = (
            session.clone(),
            key.clone(),
            base.clone(),
            push_path.clone(),
        );
        Arc::new(move |_| {
            let body = push_body(tenant, &key, client_id, notes)?;
            session.signed(&base, Method::POST, &path, body)
        })
    };

    // Warm-up (connections, page cache, SQLite statement cache): not counted.
    let mut warm = opts.clone();
    warm.phase_time = Duration::from_secs(2);
    load("warm-up", &client, &warm, 200, 0, healthz.clone(), ok_any).await?;
    load("warm-up", &client, &warm, 100, 1, push(1), all_created).await?;

    let n = opts.concurrency;
    let mut phases = Vec::new();
    let base_phase = load(
        &format!("baseline: GET /healthz ({n} tasks)"),
        &client,
        opts,
        opts.max_requests,
        0,
        healthz.clone(),
        ok_any,
    )
    .await?;
    let push1 = load(
        &format!("A1: push, batch of 1 note (~1 KB) ({n} tasks)"),
        &client,
        opts,
        opts.max_requests,
        1,
        push(1),
        all_created,
    )
    .await?;
    let push50 = load(
        &format!("A50: push, batch of 50 notes ({n} tasks)"),
        &client,
        opts,
        opts.max_requests,
        50,
        push(50),
        all_created,
    )
    .await?;
    // The feed now holds every version pushed above; pull random pages of 100 from it.
    let feed_len = 1 + 100 + push1.requests as u64 + 50 * push50.requests as u64;
    let pull: Arc<MakeRequest> = {
        let (session, base) = (session.clone(), base.clone());
        let span = feed_len.saturating_sub(100).max(1);
        Arc::new(move |i| {
            // A fixed pseudo-random walk over the feed (Fibonacci hashing of the index).
            let after = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % span;
            let path = format!("/v1/tenants/{tenant}/objects/pull?after={after}&limit=100");
            session.signed(&base, Method::GET, &path, Vec::new())
        })
    };
    let pull100 = load(
        &format!("B: pull, pages of 100 ({n} tasks)"),
        &client,
        opts,
        opts.max_requests,
        100,
        pull,
        non_empty_page,
    )
    .await?;
    // The floor again, after the writes (a drifting machine shows here).
    let base_after = load(
        &format!("baseline again, after the writes ({n} tasks)"),
        &client,
        opts,
        opts.max_requests,
        0,
        healthz,
        ok_any,
    )
    .await?;
    phases.extend([base_phase, push1, push50, pull100, base_after]);

    println!("| phase | requests | req/s | objects/s | p50 | p99 | max | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    for p in &phases {
        p.row();
    }
    let floor = &phases[0];
    println!();
    println!(
        "| phase | req/s vs /healthz | p99 vs /healthz | goal ≥ 500 req/s | goal p99 < 50 ms |"
    );
    println!("|---|---|---|---|---|");
    for p in &phases[1..4] {
        // The issue states its goal per request; a 50-version batch is shown against it too,
        // flagged as a variant.
        let variant = if p.objects_per_request == 50 {
            " (batch variant)"
        } else {
            ""
        };
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "| {} | {:.4}x ({:.0}x fewer) | {:.0}x | {}{variant} | {}{variant} |",
            p.name,
            p.rps() / floor.rps(),
            floor.rps() / p.rps(),
            p.p(0.99).as_secs_f64() / floor.p(0.99).as_secs_f64(),
            verdict(p.rps() >= 500.0),
            verdict(p.p(0.99) < Duration::from_millis(50)),
        );
    }
    let errors: usize = phases.iter().map(|p| p.errors).sum();
    println!(
        "\nContext (same disk, same run): one SQLite commit (WAL, synchronous=FULL, 1.5 KB row, \
         no HTTP) takes {} (median of 500 in a row), i.e. at most {:.0} commits/s on one \
         connection. The embedded store commits each storage call separately on one connection: \
         a push of n versions is n + 3 commits (nonce, device last-seen, n objects, audit), a \
         pull 3.",
        fmt_ms(floor_commit),
        1.0 / floor_commit.as_secs_f64()
    );
    println!(
        "\nNotes: every push commits to SQLite in WAL mode with synchronous=FULL (fsync per \
         commit), and every signed request also records its nonce (one more commit); a pull \
         page appends an audit event (a commit). Client and server share the same {} cores; \
         all traffic is on 127.0.0.1 (HTTP/1.1 keep-alive, no TLS). fsync here hits a host \
         write-back cache, faster than most real disks. Failed requests: {errors}.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut child = server.child;
    child.kill().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn body_checks() {
        let created = json!([{"status": "created", "seq": 1}]).to_string();
        assert!(all_created(created.as_bytes()));
        let rejected = json!([{"status": "rejected"}]).to_string();
        assert!(!all_created(rejected.as_bytes()));
        let page = json!({"objects": [{"object_id": "x"}]}).to_string();
        assert!(non_empty_page(page.as_bytes()));
        let v: Value = json!({"objects": []});
        assert!(!non_empty_page(v.to_string().as_bytes()));
    }
}
