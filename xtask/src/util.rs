//! Small helpers for running cargo and other tools from xtask, with output streamed through.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Build profile of the core library used for bindings and JVM tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (tests).
    Debug,
    /// `cargo build --release` (benchmarks).
    Release,
}

impl Profile {
    /// The folder name under the target directory.
    pub fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// The workspace root of the checkout that ran `cargo xtask`.
///
/// Read at run time (`cargo run` sets `CARGO_MANIFEST_DIR` for the process): a binary built in
/// a shared target directory by another checkout must still act on the checkout that ran it.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The cargo target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The packages of every debug build `cargo xtask test` makes (clippy, the build, nextest,
/// doctests): the whole workspace except `uniffi-bindgen`, whose `cli` feature must not unify
/// into the core's graph (it is built alone, see `kotlin::bindings`). One selection means one
/// feature unification, so each dependency is compiled once (plus clippy's check pass, whose
/// metadata-only artefacts cannot be shared).
pub const WORKSPACE: [&str; 3] = ["--workspace", "--exclude", "uniffi-bindgen"];

/// Builds every target of [`WORKSPACE`] (debug): the test binaries nextest runs and the
/// binaries and libraries the later steps use (`ward-server`, the `ward` CLI,
/// `libward_core`'s cdylib). Later steps call this again instead of a `-p` build of their own:
/// a `-p` build resolves features without the test targets' dev-dependencies, so it would
/// compile the AWS SDK and the rest a second time, with other features. (The artefacts
/// therefore carry the features the tests enable, e.g. ward-core's `testkit` fixtures, which
/// export nothing over the FFI.) A no-op when the workspace is already built.
pub fn build_workspace() -> Result<()> {
    cargo(&[&["build"][..], &WORKSPACE, &["--all-targets"]].concat())
}

/// `<target>/debug/<name>`, failing with a clear message when [`build_workspace`] did not
/// produce it.
pub fn debug_artefact(name: &str) -> Result<PathBuf> {
    let path = target_dir().join(Profile::Debug.dir()).join(name);
    if !path.exists() {
        bail!(
            "{} is missing after `cargo build {} --all-targets`",
            path.display(),
            WORKSPACE.join(" ")
        );
    }
    Ok(path)
}

/// `name` with the platform's executable suffix.
pub fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Runs a command, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Runs cargo with `args` in the workspace root.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_env(args, &[])
}

/// Runs cargo with `args` in the workspace root, with extra environment variables set on the
/// cargo process (and so inherited by the test binaries it runs).
pub fn cargo_env(args: &[&str], envs: &[(&str, &OsStr)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    for (key, value) in envs {
        cmd.env(key, value);
    }
    run(&mut cmd)
}

/// Whether cargo-nextest is installed.
pub fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
