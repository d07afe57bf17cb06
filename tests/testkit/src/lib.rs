//! Ward's shared test harness. [`Moto`] runs a private moto server (the AWS emulator serving
//! DynamoDB, S3 and KMS on one loopback port) for a test and stops it on drop; [`shared`] starts
//! one per test process for suites that share it. The binary comes from `WARD_MOTO_SERVER` (set
//! by `cargo xtask test` and `cargo xtask rust-test`; `cargo xtask moto` installs moto and prints
//! the path) or `moto_server` on the PATH. Talking to the emulator needs no AWS SDK: [`http`] is
//! a std-only HTTP/1.1 client, and moto serves unsigned requests as S3. Also: [`free_port`] and
//! [`scan_for_markers`], small helpers other suites use.

pub mod http;

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

/// Environment variable naming the `moto_server` executable.
pub const MOTO_ENV: &str = "WARD_MOTO_SERVER";
/// How long [`Moto::start`] waits for the server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Per-request timeout of [`Moto::request`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports to try when another process grabs the chosen one first.
const START_ATTEMPTS: usize = 3;
/// How many bytes of the server log go into error messages.
const LOG_TAIL_BYTES: u64 = 4096;

/// Runs `"$0" "$@"` (moto_server and its arguments) and stops it when our end of the shell's
/// stdin pipe closes: on [`Moto`]'s drop, and also when the test process exits without dropping
/// it (the [`shared`] server lives in a static, and a crashed test never drops anything). After
/// such a stop it also removes the log dir `$WARD_MOTO_LOG_DIR` (a static's `TempDir` is never
/// dropped); when moto dies on its own it keeps the log for the error message. The shell exits
/// with moto's status, so `try_wait` sees a moto that died.
const WATCHDOG: &str = r#"exec 3<&0
"$0" "$@" </dev/null 3<&- &
pid=$!
(read -r _ <&3; : > "$WARD_MOTO_LOG_DIR/stopping"; kill "$pid" 2>/dev/null) &
watch=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watch" 2>/dev/null
if [ -n "$WARD_MOTO_LOG_DIR" ] && [ -e "$WARD_MOTO_LOG_DIR/stopping" ]; then
  rm -rf -- "$WARD_MOTO_LOG_DIR"
fi
exit "$status""#;

/// A running moto server on `127.0.0.1`, stopped (and waited for) on drop.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`: the endpoint URL for AWS SDK clients.
    pub endpoint: String,
    /// The port it listens on.
    pub port: u16,
    child: Child,
    /// Our end of the watchdog's stdin; closing it stops the server.
    lifeline: Option<ChildStdin>,
    log: PathBuf,
    _dir: TempDir,
}

impl Moto {
    /// Starts moto server on a free loopback port and waits (up to 15 s) until it answers HTTP.
    /// Fails if no `moto_server` can be found (the message says how to install it), or if it
    /// exits or does not answer in time (the message includes the end of its log).
    pub fn start() -> Result<Moto> {
        let bin = moto_binary()?;
        let mut attempt = 1;
        loop {
            match Moto::start_on_free_port(&bin) {
                Ok(moto) => return Ok(moto),
                Err(Start::PortTaken(_)) if attempt < START_ATTEMPTS => attempt += 1,
                Err(Start::PortTaken(e) | Start::Failed(e)) => return Err(e),
            }
        }
    }

    fn start_on_free_port(bin: &Path) -> Result<Moto, Start> {
        let dir = tempfile::Builder::new()
            .prefix("ward-moto-")
            .tempdir()
            .context("creating a temp dir for the moto log")?;
        let log = dir.path().join("moto.log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log file handle")?;
        let port = free_port()?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .env("WARD_MOTO_LOG_DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {} (through sh)", bin.display()))?;
        let lifeline = child.stdin.take();
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
            lifeline,
            log,
            _dir: dir,
        };
        moto.wait_ready(bin)?;
        Ok(moto)
    }

    /// Polls until the server answers and its log shows it bound the port (so a stranger that
    /// grabbed the port in the meantime is not mistaken for it).
    fn wait_ready(&mut self, bin: &Path) -> Result<(), Start> {
        let deadline = Instant::now() + START_TIMEOUT;
        let bound = format!("Running on http://127.0.0.1:{}", self.port);
        loop {
            let exited = self.child.try_wait().context("checking on moto_server")?;
            if let Some(status) = exited {
                let tail = self.log_tail();
                let e = anyhow::anyhow!(
                    "{} exited with {status} before answering on port {}; log tail:\n{tail}",
                    bin.display(),
                    self.port
                );
                return Err(if tail.contains("already in use") {
                    Start::PortTaken(e)
                } else {
                    Start::Failed(e)
                });
            }
            let answered = self
                .request("GET", "/moto-api/data.json", &[], b"")
                .is_ok_and(|r| r.status == 200);
            if answered && self.log_tail().contains(&bound) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Start::Failed(anyhow::anyhow!(
                    "{} did not answer on port {} within {START_TIMEOUT:?}; log tail:\n{}",
                    bin.display(),
                    self.port,
                    self.log_tail()
                )));
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// The server's socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Sends one HTTP request (unsigned; moto treats unsigned requests as S3) and returns the
    /// response, whatever its status.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<http::Response> {
        http::request(self.addr(), method, path, headers, body, REQUEST_TIMEOUT)
    }

    /// Clears all emulated state (every table, bucket and key) with `POST /moto-api/reset`.
    pub fn reset(&self) -> Result<()> {
        let r = self
            .request("POST", "/moto-api/reset", &[], b"")
            .context("resetting moto")?;
        if r.status != 200 {
            bail!("moto reset answered {}: {}", r.status, r.text());
        }
        Ok(())
    }

    /// The server's log file (stdout and stderr; removed on drop).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last few KiB of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        read_tail(&self.log)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log.display()))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop moto; kill the shell only if that stalls.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

/// Why one start attempt failed.
enum Start {
    /// Another process took the port between [`free_port`] and moto binding it: try another.
    PortTaken(anyhow::Error),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Start {
    fn from(e: anyhow::Error) -> Self {
        Start::Failed(e)
    }
}

/// One moto server for the whole test process, started on first use and stopped when the process
/// exits. With cargo test the tests of one binary run in parallel against it, and nextest runs
/// each test in its own process (so each gets its own server): either way tests that share it
/// must use unique table, bucket and key names (e.g. with a UUID suffix), or run serially and
/// call [`Moto::reset`] first. Never reset a shared server from tests that run concurrently.
pub fn shared() -> Result<&'static Moto> {
    static SHARED: OnceLock<Moto> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(moto) = SHARED.get() {
        return Ok(moto);
    }
    let _guard = INIT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(moto) = SHARED.get() {
        return Ok(moto);
    }
    let moto = Moto::start()?;
    Ok(SHARED.get_or_init(|| moto))
}

/// The `moto_server` to run: `WARD_MOTO_SERVER`, else the first `moto_server` on the PATH.
fn moto_binary() -> Result<PathBuf> {
    const HINT: &str = "run `cargo xtask moto` (installs moto into .tools/moto-venv and prints \
                        the path) and export WARD_MOTO_SERVER=<that path>; `cargo xtask test` \
                        and `cargo xtask rust-test` do this for you";
    if let Some(path) = std::env::var_os(MOTO_ENV) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{MOTO_ENV}={} does not exist: {HINT}", path.display());
        }
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file());
    on_path
        .with_context(|| format!("moto_server not found ({MOTO_ENV} unset, none on PATH): {HINT}"))
}

fn read_tail(path: &Path) -> Result<String> {
    let mut file = File::open(path)?;
    let len = fs::metadata(path)?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A loopback TCP port that was free a moment ago (bound to `127.0.0.1:0`, then released).
/// Another process may take it before you bind it: retry on `AddrInUse` where that matters.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener
        .local_addr()
        .context("reading the bound address")?
        .port())
}

/// The indices (into `markers`, ascending) of the markers that occur anywhere in `bytes`, e.g.
/// to assert that no plaintext marker survives in an encrypted blob. Empty markers are never
/// reported.
pub fn scan_for_markers(bytes: &[u8], markers: &[&[u8]]) -> Vec<usize> {
    markers
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty() && memchr::memmem::find(bytes, m).is_some())
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_only_present_markers() {
        let hay = b"header PLAINTEXT-1 body \x00\x01 tail";
        let found = scan_for_markers(hay, &[b"PLAINTEXT-1", b"", b"absent", b"\x00\x01", b"tail"]);
        assert_eq!(found, vec![0, 3, 4]);
        assert!(scan_for_markers(b"", &[b"x"]).is_empty());
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
