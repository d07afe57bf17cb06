//! Cold start and binary size of `ward-lambda` against a hello-world `lambda_http` function
//! built the same way in the same run.
//!
//! A minimal local Lambda Runtime API (the part a custom runtime uses: `invocation/next`, the
//! invocation's `response` or `error`, and `init/error`) serves one API Gateway HTTP API (v2)
//! event for `GET /healthz`. A cold start is the time from spawning the process to its
//! response POST arriving; the process is killed afterwards.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::{Options, fmt_ms, http::now_ms};

/// What the function sent back to the Runtime API.
#[derive(Debug)]
enum Report {
    Response {
        at: Instant,
        id: String,
        body: Bytes,
    },
    Error {
        at: Instant,
        what: String,
        body: Bytes,
    },
}

/// Runtime API state: the id of the invocation to hand out next (once) and where reports go.
#[derive(Clone)]
struct Rapi {
    pending: Arc<Mutex<Option<String>>>,
    tx: mpsc::UnboundedSender<Report>,
}

/// An API Gateway HTTP API (payload v2) event for `GET /healthz`.
fn healthz_event(id: &str) -> Value {
    let now = now_ms();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/healthz",
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "host": "bench.execute-api.us-east-1.amazonaws.com",
            "user-agent": "ward-backend-bench",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "GET",
                "path": "/healthz",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "ward-backend-bench",
            },
            "requestId": id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": now,
        },
        "isBase64Encoded": false,
    })
}

async fn next(State(r): State<Rapi>) -> Response {
    let id = r.pending.lock().map(|mut p| p.take()).unwrap_or_default();
    let Some(id) = id else {
        // Like the real API, a runtime with nothing to do waits (until it is killed).
        return std::future::pending::<Response>().await;
    };
    let deadline = (now_ms() + 30_000).to_string();
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", id.clone()),
            ("lambda-runtime-deadline-ms", deadline),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench".to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
            ),
        ],
        healthz_event(&id).to_string(),
    )
        .into_response()
}

async fn response(State(r): State<Rapi>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = r.tx.send(Report::Response { at, id, body });
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(r): State<Rapi>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let what = format!("invocation {id} error");
    let _ = r.tx.send(Report::Error { at, what, body });
    StatusCode::ACCEPTED
}

async fn init_error(State(r): State<Rapi>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let what = "init error".to_string();
    let _ = r.tx.send(Report::Error { at, what, body });
    StatusCode::ACCEPTED
}

/// A function under test.
struct Function {
    name: &'static str,
    bin: PathBuf,
    env: Vec<(&'static str, String)>,
}

/// The local Runtime API and its reports.
struct Runtime {
    rapi: Rapi,
    rx: mpsc::UnboundedReceiver<Report>,
    addr: String,
    logs: tempfile::TempDir,
    runs: u32,
}

impl Runtime {
    async fn start() -> Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let rapi = Rapi {
            pending: Arc::new(Mutex::new(None)),
            tx,
        };
        let v = "/2018-06-01/runtime";
        let app = Router::new()
            .route(&format!("{v}/invocation/next"), get(next))
            .route(&format!("{v}/invocation/{{id}}/response"), post(response))
            .route(
                &format!("{v}/invocation/{{id}}/error"),
                post(invocation_error),
            )
            .route(&format!("{v}/init/error"), post(init_error))
            .with_state(rapi.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            rapi,
            rx,
            addr,
            logs: tempfile::tempdir()?,
            runs: 0,
        })
    }

    /// One cold start of `f`: spawn → its response to the one invocation. Returns the time and
    /// the response payload.
    async fn cold_start(&mut self, f: &Function) -> Result<(Duration, Value)> {
        while self.rx.try_recv().is_ok() {}
        self.runs += 1;
        let id = format!("bench-{}-{}", f.name, self.runs);
        *self
            .rapi
            .pending
            .lock()
            .map_err(|_| anyhow!("runtime state poisoned"))? = Some(id.clone());
        let log_path = self.logs.path().join(format!("{}.log", self.runs));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = Command::new(&f.bin);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .envs(f.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", f.bin.display()))?;
        let outcome = tokio::select! {
            r = self.rx.recv() => match r {
                Some(Report::Response { at, id: got, body }) if got == id => {
                    let payload: Value = serde_json::from_slice(&body)
                        .with_context(|| format!("response is not JSON: {body:?}"))?;
                    Ok((at.duration_since(start), payload))
                }
                Some(Report::Response { id: got, .. }) => Err(anyhow!("response for {got}, not {id}")),
                Some(Report::Error { what, body, at }) => Err(anyhow!(
                    "{what} after {}: {}",
                    fmt_ms(at.duration_since(start)),
                    String::from_utf8_lossy(&body)
                )),
                None => Err(anyhow!("runtime API stopped")),
            },
            status = child.wait() => Err(anyhow!("exited ({}) before answering", status?)),
            () = tokio::time::sleep(Duration::from_secs(20)) => Err(anyhow!("no response within 20 s")),
        };
        let _ = child.kill().await;
        outcome.map_err(|e| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow!(
                "{}: {e}\n  its output:\n    {}",
                f.name,
                tail.join("\n    ")
            )
        })
    }
}

fn size_row(name: &str, path: &Path) -> Result<(u64, Option<u64>)> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("{} (build it first)", path.display()))?
        .len();
    // Also the size with symbols stripped (what a deployment zip would carry), if `strip` is
    // installed.
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join(name);
    std::fs::copy(path, &copy)?;
    let stripped = std::process::Command::new("strip")
        .arg("-s")
        .arg(&copy)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&copy).ok())
        .map(|m| m.len());
    Ok((size, stripped))
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs the cold-start and size benchmark on `ward_lambda` against `hello`.
pub async fn run(ward_lambda: &Path, hello: &Path, opts: &Options) -> Result<()> {
    println!("\n## ward-lambda vs hello-world lambda_http: binary size and cold start\n");
    println!(
        "Both are host-built x86_64 glibc release binaries (same profile, same lambda_http \
         features), compared like for like; cargo-lambda/zig cross-compilation was not used \
         for this comparison.\n"
    );
    let (ward_size, ward_stripped) = size_row("ward-lambda", ward_lambda)?;
    let (hello_size, hello_stripped) = size_row("hello-lambda", hello)?;
    println!("| binary | size as built | stripped (strip -s) |");
    println!("|---|---|---|");
    let opt = |s: Option<u64>| s.map_or_else(|| "strip not found".to_string(), mib);
    println!(
        "| ward-lambda | {} | {} |",
        mib(ward_size),
        opt(ward_stripped)
    );
    println!(
        "| hello-lambda | {} | {} |",
        mib(hello_size),
        opt(hello_stripped)
    );
    let size_ratio = ward_size as f64 / hello_size as f64;
    let goal = |r: f64| if r <= 2.0 { "met" } else { "MISSED" };
    print!(
        "| **ratio** | **{size_ratio:.2}x** ({}; goal ≤ 2x) |",
        goal(size_ratio)
    );
    match (ward_stripped, hello_stripped) {
        (Some(w), Some(h)) => println!(" {:.2}x |", w as f64 / h as f64),
        _ => println!(" – |"),
    }

    let mut rt = Runtime::start().await?;
    let hello_fn = Function {
        name: "hello-lambda",
        bin: hello.to_path_buf(),
        env: Vec::new(),
    };
    let ward_fn = Function {
        name: "ward-lambda",
        bin: ward_lambda.to_path_buf(),
        env: vec![
            ("WARD_STORE", "aws".into()),
            ("WARD_TABLE", "ward-bench".into()),
            ("WARD_BUCKET", "ward-bench".into()),
            // The production configuration (no emulator endpoint, so the SDK trusts only the
            // compiled-in roots). Nothing leaves the machine: /healthz touches no storage and
            // the SDK connects lazily; credentials are dummies.
            ("AWS_ACCESS_KEY_ID", "AKIDBENCHONLY".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench-only-not-a-secret".into()),
        ],
    };
    // One unmeasured start each (page cache), then alternate so both see the same noise.
    let (_, hello_payload) = rt.cold_start(&hello_fn).await?;
    let ward_error = match rt.cold_start(&ward_fn).await {
        Ok((_, payload)) => {
            if payload["statusCode"] != 200 {
                bail!("ward-lambda answered GET /healthz with {payload}");
            }
            None
        }
        Err(e) => Some(e),
    };
    if hello_payload["statusCode"] != 200 {
        bail!("hello-lambda answered with {hello_payload}");
    }
    let mut hello_t = Vec::new();
    let mut ward_t = Vec::new();
    for _ in 0..opts.runs {
        hello_t.push(rt.cold_start(&hello_fn).await?.0);
        if ward_error.is_none() {
            ward_t.push(rt.cold_start(&ward_fn).await?.0);
        }
    }
    hello_t.sort();
    ward_t.sort();
    let med = |v: &[Duration]| v.get(v.len() / 2).copied().unwrap_or_default();
    let range = |v: &[Duration]| {
        format!(
            "{} – {}",
            fmt_ms(v.first().copied().unwrap_or_default()),
            fmt_ms(v.last().copied().unwrap_or_default())
        )
    };
    println!(
        "\nCold start = spawn → the response POST reaching the local Runtime API (one GET \
         /healthz API Gateway v2 event), median of {} runs:\n",
        opts.runs
    );
    println!("| function | median | min – max |");
    println!("|---|---|---|");
    println!(
        "| hello-lambda | {} | {} |",
        fmt_ms(med(&hello_t)),
        range(&hello_t)
    );
    match ward_error {
        None => {
            let ratio = med(&ward_t).as_secs_f64() / med(&hello_t).as_secs_f64();
            println!(
                "| ward-lambda | {} | {} |",
                fmt_ms(med(&ward_t)),
                range(&ward_t)
            );
            println!(
                "| **ratio** | **{ratio:.2}x** ({}; goal ≤ 2x) | |",
                goal(ratio)
            );
        }
        Some(e) => {
            println!("| ward-lambda | NOT MEASURED | |");
            println!(
                "\nward-lambda's cold start could not be measured: it does not answer the \
                 invocation. Reason:\n{e:#}"
            );
        }
    }
    Ok(())
}
