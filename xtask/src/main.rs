//! `cargo xtask`: Ward's build, bindings, test and benchmark tasks, in Rust rather than shell
//! so they run the same on every machine.
//!
//! `cargo xtask test` is the README's "run every test" command and what CI runs: it installs
//! what it needs (JVM test jars, the Kotlin compiler, moto server in a Python venv) into
//! `.tools/`, checks formatting and lints, checks `infra/template.yaml` offline (cfn-lint, `sam
//! validate --lint`, checkov), builds the workspace once (`util::build_workspace`: every later
//! step uses its binaries and library, so nothing is compiled twice), runs the Rust test suites
//! with `WARD_MOTO_SERVER` pointing at moto, runs the admin console's browser tests (Debian's
//! Chromium driven by playwright-core, see `browser.rs`), generates the Kotlin and Swift
//! bindings, and runs the Kotlin JUnit suite on the desktop JVM against the host-built core
//! (including ward-kit, the Android app's Kotlin layer), then `apps-check`: a tree-sitter parse
//! of every Swift/Kotlin file of the apps and a check of their core calls against the bindings.

mod apps;
mod browser;
mod infra;
mod kotlin;
mod mobile;
mod tools;
mod util;

use anyhow::{Result, bail};

fn usage() -> &'static str {
    "usage: cargo xtask <command>

commands:
  test        everything CI runs: fmt, infra checks, clippy, one workspace build, Rust tests, browser tests, bindings, Kotlin JVM tests, apps check
  rust-test   build the workspace (all targets), then the Rust test suites (installs moto server first)
  moto        install moto server (AWS emulator for the backend tests) and print its path
  lint        rustfmt --check and clippy -D warnings
  infra-check offline checks of infra/template.yaml: cfn-lint, sam validate --lint, checkov
  lambda-package build ward-lambda's bootstrap.zip for arm64 Lambda (--bench: and hello-lambda)
  bindings    generate Kotlin and Swift bindings into target/bindings
  kotlin-test build the core, generate bindings, compile and run the Kotlin JUnit suite
  kotlin-bench the Kotlin FFI benchmark only (release build)
  apps-check  parse every Swift/Kotlin file of the apps; check their core calls against the bindings
  ios-package XCFramework + Swift bindings for ios/ (needs a Mac with Xcode)
  android-package cargo-ndk libraries into android/app jniLibs + Android bindings (needs the NDK)
  browser-test the admin console in Debian's Chromium (playwright-core, virtual passkey)
  bench       release benchmarks (core and FFI); prints ratios against baselines
  bench-backend release backend benchmarks: push/pull vs /healthz, ward-lambda vs hello-world
  bench-sync  release sync benchmarks: first sync of 10k notes, idle sync, photo upload bytes
  run         start the local backend (ward-server, embedded store in ./ward-data)
  demo        a short core demo: create a vault, capture a note and a photo, read back"
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        println!("{}", usage());
        return Ok(());
    };
    match cmd.as_str() {
        "test" => {
            // Fastest failures first: formatting, the offline template checks, clippy (its own
            // check pass); then one build of the workspace that every later step reuses.
            let started = std::time::Instant::now();
            timed("fmt", fmt_check)?;
            timed("infra-check", infra::check)?;
            timed("clippy", clippy)?;
            timed("rust-test", rust_test)?;
            timed("browser-test", browser::test)?;
            timed("kotlin-test", kotlin::test)?;
            timed("apps-check", apps::check)?;
            println!("xtask: all test suites passed in {:.0?}", started.elapsed());
            Ok(())
        }
        "rust-test" => rust_test(),
        "moto" => {
            println!("{}", tools::ensure_moto()?.display());
            Ok(())
        }
        "lint" => lint(),
        "infra-check" => infra::check(),
        "lambda-package" => infra::package(&args[1..]),
        "bindings" => kotlin::bindings(util::Profile::Debug).map(|_| ()),
        "kotlin-test" => kotlin::test(),
        "kotlin-bench" => kotlin::bench(),
        "apps-check" => apps::check(),
        "ios-package" => mobile::ios_package(),
        "android-package" => mobile::android_package(),
        "browser-test" => browser::test(),
        "bench" => bench(&args[1..]),
        "bench-backend" => {
            let (server, lambda) = ("ward-server", "ward-lambda");
            let backend = ["build", "--release", "-p", "ward-backend", "--bin", server];
            util::cargo(&[&backend[..], &["--bin", lambda]].concat())?;
            util::cargo(&["build", "--release", "-p", "ward-backend-bench", "--bins"])?;
            let bench = util::target_dir().join("release/ward-backend-bench");
            util::run(std::process::Command::new(bench).args(&args[1..]))
        }
        "bench-sync" => util::cargo(&["run", "--release", "-p", "ward-e2e", "--bin", "sync-bench"]),
        "run" => {
            let mut a = vec![
                "run",
                "-q",
                "-p",
                "ward-backend",
                "--bin",
                "ward-server",
                "--",
            ];
            a.extend(args[1..].iter().map(String::as_str));
            util::cargo(&a)
        }
        "demo" => {
            let mut a = vec!["run", "-q", "-p", "ward-core", "--example", "demo"];
            a.extend(["--features", "testkit", "--"]);
            a.extend(args[1..].iter().map(String::as_str));
            util::cargo(&a)
        }
        "-h" | "--help" | "help" => {
            println!("{}", usage());
            Ok(())
        }
        other => bail!("unknown command '{other}'\n\n{}", usage()),
    }
}

/// Runs one step of `cargo xtask test` and says how long it took (CI logs then show where the
/// time goes).
fn timed(name: &str, step: fn() -> Result<()>) -> Result<()> {
    let started = std::time::Instant::now();
    let result = step();
    eprintln!(
        "xtask: step {name} {} after {:.1?}",
        if result.is_ok() { "passed" } else { "failed" },
        started.elapsed()
    );
    result
}

/// `rustfmt --check`, then clippy.
fn lint() -> Result<()> {
    fmt_check()?;
    clippy()
}

fn fmt_check() -> Result<()> {
    util::cargo(&["fmt", "--all", "--", "--check"])
}

/// Clippy over [`util::WORKSPACE`], all targets, `-D warnings`.
fn clippy() -> Result<()> {
    util::cargo(
        &[
            &["clippy"][..],
            &util::WORKSPACE,
            &["--all-targets", "--", "-D", "warnings"],
        ]
        .concat(),
    )
}

/// Environment variable through which the test harness (`ward-testkit`) finds `moto_server`.
const MOTO_ENV: &str = "WARD_MOTO_SERVER";

/// Builds the workspace once ([`util::build_workspace`]), then runs its tests with nextest (no
/// compilation left to do) and the doctests, or with `cargo test` when nextest is missing.
fn rust_test() -> Result<()> {
    let moto = tools::ensure_moto()?;
    let envs = [(MOTO_ENV, moto.as_os_str())];
    util::build_workspace()?;
    if util::has_nextest() {
        let nextest = [
            &["nextest", "run"][..],
            &util::WORKSPACE,
            &["--no-fail-fast"],
        ]
        .concat();
        util::cargo_env(&nextest, &envs)?;
        // nextest does not run doctests.
        util::cargo_env(
            &[&["test"][..], &util::WORKSPACE, &["--doc"]].concat(),
            &envs,
        )
    } else {
        let test = [&["test"][..], &util::WORKSPACE, &["--no-fail-fast"]].concat();
        util::cargo_env(&test, &envs)
    }
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["run", "--release", "-p", "ward-bench", "--"];
    args.extend(extra.iter().map(String::as_str));
    util::cargo(&args)?;
    kotlin::bench()
}
