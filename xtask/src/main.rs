//! `cargo xtask`: Ward's build, bindings, test and benchmark tasks, in Rust rather than shell
//! so they run the same on every machine.
//!
//! `cargo xtask test` is the README's "run every test" command and what CI runs: it installs
//! what it needs (JVM test jars, the Kotlin compiler, moto server in a Python venv) into
//! `.tools/`, checks formatting and lints, checks `infra/template.yaml` offline (cfn-lint, `sam
//! validate --lint`, checkov), runs the Rust test suites with `WARD_MOTO_SERVER`
//! pointing at moto, runs the admin console's browser tests (Debian's Chromium driven by
//! playwright-core, see `browser.rs`), generates the Kotlin and Swift bindings, and runs the
//! Kotlin JUnit suite on the desktop JVM against the host-built core
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
  test        everything CI runs: fmt, clippy, infra checks, Rust tests, browser tests, bindings, Kotlin JVM tests, apps check
  rust-test   the Rust test suites only (installs moto server first)
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
            lint()?;
            infra::check()?;
            rust_test()?;
            browser::test()?;
            kotlin::test()?;
            apps::check()?;
            println!("xtask: all test suites passed");
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

fn lint() -> Result<()> {
    util::cargo(&["fmt", "--all", "--", "--check"])?;
    util::cargo(&[
        "clippy",
        "--workspace",
        "--exclude",
        "uniffi-bindgen",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
}

/// Environment variable through which the test harness (`ward-testkit`) finds `moto_server`.
const MOTO_ENV: &str = "WARD_MOTO_SERVER";

fn rust_test() -> Result<()> {
    let moto = tools::ensure_moto()?;
    let envs = [(MOTO_ENV, moto.as_os_str())];
    if util::has_nextest() {
        util::cargo_env(
            &[
                "nextest",
                "run",
                "--workspace",
                "--exclude",
                "uniffi-bindgen",
                "--no-fail-fast",
            ],
            &envs,
        )?;
        // nextest does not run doctests.
        util::cargo_env(
            &[
                "test",
                "--workspace",
                "--exclude",
                "uniffi-bindgen",
                "--doc",
            ],
            &envs,
        )
    } else {
        util::cargo_env(
            &[
                "test",
                "--workspace",
                "--exclude",
                "uniffi-bindgen",
                "--no-fail-fast",
            ],
            &envs,
        )
    }
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["run", "--release", "-p", "ward-bench", "--"];
    args.extend(extra.iter().map(String::as_str));
    util::cargo(&args)?;
    kotlin::bench()
}
