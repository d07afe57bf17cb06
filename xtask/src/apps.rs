//! `cargo xtask apps-check`: what can be checked of the iOS and Android apps on a machine with
//! neither Xcode nor the Android SDK.
//!
//! Runs `xtask/apps-check/check.mjs` under Node: every `.swift`, `.kt` and `.kts` file under
//! `android/` and `ios/` must parse with tree-sitter (WebAssembly grammars from npm, so nothing
//! native is compiled), and every call the app code makes into ward-core must exist in the
//! freshly generated Kotlin / Swift bindings with that arity and those argument names (Kotlin)
//! or labels (Swift). The script first runs its fixtures (`xtask/apps-check/fixtures`), each a
//! mistake it must reject, so a checker that stopped finding anything fails as well.
//!
//! The npm packages are installed with `npm ci --ignore-scripts` from the committed lock file
//! into `<tools dir>/apps-check`, again only when the lock file changes.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::kotlin;
use crate::tools;
use crate::util::{self, Profile};

/// Written next to the installed node_modules: the SHA-256 of package.json + package-lock.json.
const STAMP: &str = "ward-apps-check.lock-sha256";

/// Generates the bindings, installs the checker's npm packages if needed and runs the checks.
pub fn check() -> Result<()> {
    let bindings = kotlin::bindings(Profile::Debug)?;
    let modules = ensure_node_modules()?;
    let script = util::root().join("xtask/apps-check/check.mjs");
    util::run(
        Command::new("node")
            .arg(&script)
            .arg(util::root())
            .arg(&bindings)
            .env("WARD_APPS_CHECK_MODULES", &modules)
            .current_dir(util::root()),
    )
    .context("apps-check failed: a Swift/Kotlin file does not parse, or app code calls the core in a way the generated bindings do not offer")
}

/// `<tools dir>/apps-check/node_modules`, installed with `npm ci` when missing or stale.
fn ensure_node_modules() -> Result<PathBuf> {
    let src = util::root().join("xtask/apps-check");
    let files = ["package.json", "package-lock.json"];
    let mut both = Vec::new();
    for f in files {
        let path = src.join(f);
        both.extend(fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    let key = tools::sha256_hex(&both);
    let dir = tools::tools_dir().join("apps-check");
    let modules = dir.join("node_modules");
    let stamp = dir.join(STAMP);
    let fresh = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key);
    if fresh && modules.join("web-tree-sitter").is_dir() {
        return Ok(modules);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in files {
        fs::copy(src.join(f), dir.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    eprintln!(
        "xtask: installing the apps-check npm packages into {}",
        dir.display()
    );
    util::run(
        Command::new(npm)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
    .context("npm ci for apps-check (is Node.js 18+ with npm installed?)")?;
    if !modules.join("web-tree-sitter").is_dir() {
        bail!("npm ci ran but {} is missing", modules.display());
    }
    fs::write(&stamp, key).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(modules)
}
