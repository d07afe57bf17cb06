//! `cargo xtask browser-test`: the admin console in a real browser. Installs Debian's
//! Chromium with apt-get when `/usr/bin/chromium` is missing, installs the pinned
//! playwright-core with `npm ci` in `tests/browser` (it never downloads a browser of its own),
//! builds the workspace (debug, the selection the Rust tests use, so `ward-server` and the
//! `ward` CLI come from the same build), starts the server on a free port with a
//! fresh data folder, reads the clinic id and the one-time setup code from its banner, runs
//! `node --test` with them in the environment, and always stops the server afterwards.
//! Screenshots and the server's log go to `<target>/browser-artifacts/`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util;

/// Where Debian's chromium package puts its launcher.
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the server may take to print its banner.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the browser tests (see the module docs).
pub fn test() -> Result<()> {
    ensure_chromium()?;
    let dir = util::root().join("tests/browser");
    util::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
    .context("npm ci in tests/browser")?;
    // The workspace build the Rust tests made (a no-op then): a `-p` build would resolve other
    // features and compile much of the workspace again.
    util::build_workspace()?;
    let server_bin = util::debug_artefact(&util::exe("ward-server"))?;
    let cli = util::debug_artefact(&util::exe("ward"))?;
    let artifacts = util::target_dir().join("browser-artifacts");
    reset_dir(&artifacts)?;
    let data = std::env::temp_dir().join(format!("ward-browser-test-{}", std::process::id()));
    reset_dir(&data)?;
    let result = with_server(&server_bin, &data, &artifacts, |server| {
        util::run(
            Command::new("node")
                .args([
                    "--test",
                    "--test-concurrency=1",
                    "wcrypto.test.mjs",
                    "console.test.mjs",
                ])
                .current_dir(&dir)
                .env("WARD_URL", &server.url)
                .env("WARD_TENANT", &server.tenant)
                .env("WARD_SETUP_CODE", &server.setup_code)
                .env("WARD_CLI", &cli)
                .env("WARD_ARTIFACTS", &artifacts)
                .env("WARD_CHROMIUM", CHROMIUM),
        )
    });
    let _ = std::fs::remove_dir_all(&data);
    println!(
        "xtask: browser-test screenshots and server log: {}",
        artifacts.display()
    );
    result
}

fn reset_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Installs Debian's `chromium` unless it is already there.
fn ensure_chromium() -> Result<()> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    eprintln!("xtask: installing chromium with apt-get");
    let sudo = !is_root();
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.args(["--preserve-env=DEBIAN_FRONTEND", "apt-get"]);
            c
        } else {
            Command::new("apt-get")
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        util::run(&mut cmd)
    };
    apt(&["update"]).context("apt-get update (Debian is required for the browser tests)")?;
    apt(&["install", "-y", "chromium"])?;
    if !Path::new(CHROMIUM).exists() {
        bail!("apt-get installed chromium but {CHROMIUM} is missing");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A running ward-server and what its banner said.
struct Server {
    child: Child,
    url: String,
    tenant: String,
    setup_code: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Starts `bin` on a free port over `data`, runs `f`, and stops the server whatever happens.
fn with_server(
    bin: &Path,
    data: &Path,
    artifacts: &Path,
    f: impl FnOnce(&Server) -> Result<()>,
) -> Result<()> {
    let port = free_port()?;
    let url = format!("http://localhost:{port}");
    eprintln!("xtask: starting {} on {url}", bin.display());
    let mut child = Command::new(bin)
        .env("WARD_PORT", port.to_string())
        .env("WARD_DATA_DIR", data)
        .env("WARD_WEB_ORIGIN", &url)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let (tx, rx) = mpsc::channel::<String>();
    let log_path = artifacts.join("ward-server.log");
    for (i, stream) in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(stream) = stream else { continue };
        let tx = tx.clone();
        let log = log_path.with_extension(if i == 0 { "log" } else { "stderr.log" });
        // Drains the pipe for the server's whole life (a full pipe would stall it) into a
        // log file, passing lines on until the banner has been read.
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log).ok();
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut server = Server {
        child,
        url,
        tenant: String::new(),
        setup_code: String::new(),
    };
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    while server.tenant.is_empty() || server.setup_code.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(_) => bail!(
                "ward-server printed no clinic id and setup code within {START_TIMEOUT:?} (see {})",
                log_path.display()
            ),
        };
        if let Some(rest) = line.split("(tenant ").nth(1) {
            server.tenant = rest.trim_end_matches(')').trim().to_string();
        }
        if let Some(code) = line.split("setup code for the first admin").nth(1)
            && let Some(code) = code.rsplit(": ").next()
        {
            server.setup_code = code.trim().to_string();
        }
    }
    eprintln!("xtask: ward-server up (tenant {})", server.tenant);
    // `server` is dropped (killed and reaped) on every path out of here.
    f(&server)
}
