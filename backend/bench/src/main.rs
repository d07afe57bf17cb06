//! Ward backend benchmarks, each against a baseline measured in the same run:
//!
//! 1. push/pull throughput and latency against a real `ward-server` (release, embedded store on
//!    disk) over HTTP on 127.0.0.1, vs `GET /healthz` under the same load generator;
//! 2. `ward-lambda` cold start (local Lambda Runtime API) and binary size vs `hello-lambda`, a
//!    hello-world `lambda_http` function built the same way.
//!
//! Run with `cargo xtask bench-backend`, which builds the release binaries first. Options:
//! `--seconds=N` (per load phase, at most 20), `--concurrency=N` (default 16),
//! `--requests=N` (cap per load phase), `--runs=N` (cold starts per function, default 10),
//! `--only=server|lambda`. `WARD_BENCH_DIR` sets where the server's data folder is created
//! (default: the system temp folder; keep it on a real disk, not tmpfs, so fsync is real).

mod http;
mod lambda;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Benchmark options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest time of one load phase.
    pub phase_time: Duration,
    /// Concurrent client tasks.
    pub concurrency: usize,
    /// Most requests in one load phase.
    pub max_requests: u64,
    /// Cold starts per function.
    pub runs: u32,
    /// Only one of the two benchmarks.
    pub only: Option<String>,
}

const MAX_PHASE_SECONDS: u64 = 20;

fn parse_args() -> Result<Options> {
    let mut o = Options {
        phase_time: Duration::from_secs(10),
        concurrency: 16,
        max_requests: 1_000_000,
        runs: 10,
        only: None,
    };
    for arg in std::env::args().skip(1) {
        let (k, v) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        match k {
            "--seconds" => {
                o.phase_time = Duration::from_secs(v.parse::<u64>()?.min(MAX_PHASE_SECONDS))
            }
            "--concurrency" => o.concurrency = v.parse::<usize>()?.max(1),
            "--requests" => o.max_requests = v.parse()?,
            "--runs" => o.runs = v.parse::<u32>()?.max(1),
            "--only" if v == "server" || v == "lambda" => o.only = Some(v.to_string()),
            _ => bail!(
                "unknown argument {arg:?}; expected --seconds=N --concurrency=N --requests=N \
                 --runs=N --only=server|lambda"
            ),
        }
    }
    Ok(o)
}

/// Where the release binaries are: `$CARGO_TARGET_DIR/release`, else next to this binary.
fn release_dir() -> Result<PathBuf> {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(t).join("release"));
    }
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(PathBuf::from)
        .context("the benchmark binary has no parent folder")
}

/// The `q` quantile of sorted `v` (nearest rank).
pub fn percentile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v.get(i).copied().unwrap_or_default()
}

/// Milliseconds with two decimals.
pub fn fmt_ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() -> Result<()> {
    let opts = parse_args()?;
    let dir = release_dir()?;
    let need = |name: &str| -> Result<PathBuf> {
        let p = dir.join(name);
        if !p.is_file() {
            bail!(
                "{} not found: build it first (`cargo xtask bench-backend` does)",
                p.display()
            );
        }
        Ok(p)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# Ward backend benchmarks (release builds, {cores} cores)");
    println!(
        "\nLoad: {} concurrent tasks, each phase at most {} s or {} requests.",
        opts.concurrency,
        opts.phase_time.as_secs(),
        opts.max_requests
    );
    println!("Load average before: {}", load_average());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if opts.only.as_deref() != Some("lambda") {
            let data_root = std::env::var_os("WARD_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("ward-bench"));
            std::fs::create_dir_all(&data_root)?;
            server::run(&need("ward-server")?, &data_root, &opts).await?;
        }
        if opts.only.as_deref() != Some("server") {
            lambda::run(&need("ward-lambda")?, &need("hello-lambda")?, &opts).await?;
        }
        anyhow::Ok(())
    })?;
    // Other work on the machine (a build) shows here and makes the figures noisy.
    println!("\nLoad average after: {}", load_average());
    Ok(())
}

/// The 1/5/15-minute load averages (Linux), or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
