//! Infrastructure tasks: the offline checks of `infra/template.yaml` and the Lambda package.
//!
//! [`check`] (`cargo xtask infra-check`, also a step of `cargo xtask test`) runs cfn-lint with
//! the cfn-lint-serverless rules, `sam validate --lint` and checkov, concurrently, each from a
//! pinned Python venv under the tools dir (installed on first use, then reused); any finding —
//! warnings included — fails the task. None of them needs AWS credentials or the network
//! (checkov runs with `--skip-download`).
//!
//! [`package`] (`cargo xtask lambda-package [--bench]`) builds `ward-lambda` for Lambda
//! (`provided.al2023`, arm64) with cargo-lambda and a pinned zig, both from PyPI, into a target
//! dir of its own, and prints the binary and bootstrap.zip sizes; `--bench` builds the
//! hello-world `lambda_http` function the same way for comparison (docs/benchmarks.md).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{tools, util};

/// The template every check reads.
const TEMPLATE: &str = "infra/template.yaml";
/// cfn-lint (pinned below the range aws-sam-cli accepts), its serverless rules, and SAM CLI.
const IAC_REQUIREMENTS: [&str; 3] = [
    "aws-sam-cli==1.170.0",
    "cfn-lint==1.58.0",
    "cfn-lint-serverless==0.3.6",
];
/// checkov, in a venv of its own (its pins conflict with SAM CLI's).
const CHECKOV_REQUIREMENTS: [&str; 1] = ["checkov==3.3.30"];
/// cargo-lambda and zig (0.16.0 breaks ring/aws-lc-sys; 0.15.2 is the last release before it).
const LAMBDA_REQUIREMENTS: [&str; 2] = ["cargo-lambda==1.9.2", "ziglang==0.15.2"];
/// The Rust target of an arm64 Lambda.
const LAMBDA_TARGET: &str = "aarch64-unknown-linux-gnu";
/// Newest glibc symbol version the binary may need: Lambda's provided.al2023 has glibc 2.34.
const MAX_GLIBC_MINOR: u32 = 34;
/// Written into a venv after a successful install: the requirements, one a line.
const STAMP: &str = "ward-requirements";

/// A Python venv under the tools dir.
#[derive(Debug)]
struct Venv {
    dir: PathBuf,
}

impl Venv {
    fn bin_dir(&self) -> PathBuf {
        self.dir.join(if cfg!(windows) { "Scripts" } else { "bin" })
    }

    fn bin(&self, name: &str) -> PathBuf {
        let file = if cfg!(windows) {
            format!("{name}.exe")
        } else {
            name.to_string()
        };
        self.bin_dir().join(file)
    }
}

/// Installs `requirements` into `tools_dir()/<name>` when the venv is missing, was installed
/// with other requirements, or lacks one of `executables`; returns the venv. Needs `python3`
/// (3.9+) with the `venv` module (Debian: python3-venv).
fn ensure_venv(name: &str, requirements: &[&str], executables: &[&str]) -> Result<Venv> {
    let venv = Venv {
        dir: tools::tools_dir().join(name),
    };
    let wanted = requirements.join("\n");
    let stamp = venv.dir.join(STAMP);
    let installed = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == wanted);
    if installed && executables.iter().all(|e| venv.bin(e).is_file()) {
        return Ok(venv);
    }
    let python = venv.bin("python");
    if !python.is_file() {
        fs::create_dir_all(tools::tools_dir())
            .with_context(|| format!("creating {}", tools::tools_dir().display()))?;
        let python3 = if cfg!(windows) { "python" } else { "python3" };
        util::run(Command::new(python3).args(["-m", "venv"]).arg(&venv.dir)).with_context(
            || {
                format!(
                    "creating a Python venv at {} (is python3 with the venv module installed? \
                     Debian: python3-venv)",
                    venv.dir.display()
                )
            },
        )?;
    }
    eprintln!(
        "xtask: installing {} into {}",
        requirements.join(" "),
        venv.dir.display()
    );
    util::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements),
    )
    .with_context(|| format!("installing {} with pip", requirements.join(" ")))?;
    for e in executables {
        if !venv.bin(e).is_file() {
            bail!(
                "pip installed {} but {} is missing",
                requirements.join(" "),
                venv.bin(e).display()
            );
        }
    }
    fs::write(&stamp, &wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(venv)
}

/// One check's command line, for running and for the report.
struct Check {
    name: &'static str,
    cmd: Command,
}

/// Runs the three offline checks of the template concurrently; fails if any reports anything.
pub fn check() -> Result<()> {
    let start = Instant::now();
    let iac = ensure_venv("iac-venv", &IAC_REQUIREMENTS, &["cfn-lint", "sam"])?;
    let checkov = ensure_venv("checkov-venv", &CHECKOV_REQUIREMENTS, &["checkov"])?;
    let root = util::root();
    if !root.join(TEMPLATE).is_file() {
        bail!("{} not found", root.join(TEMPLATE).display());
    }

    let mut cfn_lint = Command::new(iac.bin("cfn-lint"));
    cfn_lint
        .args([
            "--append-rules",
            "cfn_lint_serverless.rules",
            "--",
            TEMPLATE,
        ])
        .current_dir(&root);
    let mut sam = Command::new(iac.bin("sam"));
    // `--lint` validates offline; plain `sam validate` calls AWS and needs credentials.
    sam.args([
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "--template-file",
    ])
    .arg(TEMPLATE)
    .env("SAM_CLI_TELEMETRY", "0")
    .current_dir(&root);
    let mut checkov_cmd = Command::new(checkov.bin("checkov"));
    // Without --skip-download checkov first tries to fetch policies from its vendor.
    checkov_cmd
        .args(["-d", "infra", "--skip-download", "--quiet", "--compact"])
        .current_dir(&root);
    let checks = vec![
        Check {
            name: "cfn-lint (+ serverless rules)",
            cmd: cfn_lint,
        },
        Check {
            name: "sam validate --lint",
            cmd: sam,
        },
        Check {
            name: "checkov",
            cmd: checkov_cmd,
        },
    ];

    let results: Vec<(&'static str, String, Result<Output>, Duration)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = checks
                .into_iter()
                .map(|mut c| {
                    scope.spawn(move || {
                        let line = format!("{:?}", c.cmd);
                        let t = Instant::now();
                        let out = c.cmd.output().with_context(|| format!("starting {line}"));
                        (c.name, line, out, t.elapsed())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            "?",
                            String::new(),
                            Err(anyhow::anyhow!("check thread panicked")),
                            Duration::ZERO,
                        )
                    })
                })
                .collect()
        });

    let mut failed = Vec::new();
    for (name, line, out, took) in results {
        eprintln!("xtask: ran {line} ({:.1} s)", took.as_secs_f64());
        match out {
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                if o.status.success() {
                    eprintln!("xtask: {name}: ok");
                } else {
                    eprintln!("xtask: {name}: FAILED ({})\n{}", o.status, text.trim_end());
                    failed.push(name);
                }
            }
            Err(e) => {
                eprintln!("xtask: {name}: could not run: {e:#}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("{TEMPLATE}: {} failed", failed.join(", "));
    }
    println!(
        "xtask: {TEMPLATE} passed cfn-lint, sam validate --lint and checkov in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where the Lambda builds go: `WARD_LAMBDA_TARGET_DIR`, else `<target>/lambda` — apart from
/// the host build's cache, so the two never wait for each other's lock or evict each other.
fn lambda_target_dir() -> PathBuf {
    std::env::var_os("WARD_LAMBDA_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::target_dir().join("lambda"))
}

fn ensure_rust_target(target: &str) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list` (cross-compiling needs rustup)")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    util::run(Command::new("rustup").args(["target", "add", target]))
}

/// Highest `GLIBC_2.N` symbol version named in an ELF file (what it needs at run time).
fn max_glibc_minor(bytes: &[u8]) -> Option<u32> {
    let needle = b"GLIBC_2.";
    let mut max = None;
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + pos + needle.len();
        let digits: String = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        if let Ok(n) = digits.parse::<u32>() {
            max = max.max(Some(n));
        }
        i = start;
    }
    max
}

/// What one build produced.
struct Built {
    bin: &'static str,
    binary: u64,
    zip: u64,
    seconds: f64,
}

fn build(venv: &Venv, package: &str, bin: &'static str) -> Result<Built> {
    let target = lambda_target_dir();
    let path = std::env::join_paths(std::iter::once(venv.bin_dir()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .context("building PATH")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    util::run(
        Command::new(cargo)
            .args(["lambda", "build", "--release", "--arm64"])
            .args(["--output-format", "zip", "-p", package, "--bin", bin])
            .current_dir(util::root())
            // cargo-lambda runs `cargo-lambda` from PATH and finds zig through the venv's
            // python (`python -m ziglang`).
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", &target)
            // Symbol names stay (readable backtraces in the logs); debug info goes.
            .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
    )
    .with_context(|| format!("cargo lambda build of {bin}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let binary_path = target.join(LAMBDA_TARGET).join("release").join(bin);
    let zip_path = target.join("lambda").join(bin).join("bootstrap.zip");
    let binary =
        fs::read(&binary_path).with_context(|| format!("reading {}", binary_path.display()))?;
    check_binary(&binary_path, &binary)?;
    let zip = fs::metadata(&zip_path)
        .with_context(|| format!("{} missing after the build", zip_path.display()))?
        .len();
    println!("xtask: {bin}: {}", zip_path.display());
    Ok(Built {
        bin,
        binary: binary.len() as u64,
        zip,
        seconds,
    })
}

/// Refuses a binary Lambda cannot run: not arm64 ELF, or linked against a newer glibc than
/// provided.al2023's (what a host-linked Debian build would do).
fn check_binary(path: &Path, bytes: &[u8]) -> Result<()> {
    const EM_AARCH64: u16 = 183;
    let is_elf = bytes.len() > 20 && bytes.starts_with(b"\x7fELF");
    let machine = if is_elf {
        u16::from_le_bytes([bytes[18], bytes[19]])
    } else {
        0
    };
    if machine != EM_AARCH64 {
        bail!("{} is not an arm64 ELF binary", path.display());
    }
    match max_glibc_minor(bytes) {
        Some(n) if n > MAX_GLIBC_MINOR => bail!(
            "{} needs glibc 2.{n}; Lambda's provided.al2023 has 2.{MAX_GLIBC_MINOR}",
            path.display()
        ),
        Some(n) => eprintln!("xtask: {}: arm64, needs glibc ≤ 2.{n}", path.display()),
        None => eprintln!("xtask: {}: arm64, static", path.display()),
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Builds the bootstrap.zip of `ward-lambda` (and with `--bench`, of `hello-lambda` too).
pub fn package(args: &[String]) -> Result<()> {
    let bench = args.iter().any(|a| a == "--bench");
    if let Some(other) = args.iter().find(|a| *a != "--bench") {
        bail!("lambda-package: unknown option '{other}' (only --bench)");
    }
    let venv = ensure_venv("lambda-venv", &LAMBDA_REQUIREMENTS, &["cargo-lambda"])?;
    ensure_rust_target(LAMBDA_TARGET)?;
    let mut built = vec![build(&venv, "ward-backend", "ward-lambda")?];
    if bench {
        built.push(build(&venv, "ward-backend-bench", "hello-lambda")?);
    }
    println!("\n| | binary | bootstrap.zip | build time |\n|---|---|---|---|");
    for b in &built {
        println!(
            "| {} | {} | {} | {:.1} s |",
            b.bin,
            mib(b.binary),
            mib(b.zip),
            b.seconds
        );
    }
    if let [ward, hello] = &built[..] {
        println!(
            "| ratio | {:.2}× | {:.2}× | |",
            ward.binary as f64 / hello.binary as f64,
            ward.zip as f64 / hello.zip as f64
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::max_glibc_minor;

    #[test]
    fn finds_the_newest_glibc_version() {
        let bytes = b"\0GLIBC_2.17\0GLIBC_2.34\0GLIBC_2.2.5\0GLIBC_PRIVATE\0";
        assert_eq!(max_glibc_minor(bytes), Some(34));
        assert_eq!(max_glibc_minor(b"no versions"), None);
    }
}
