//! Installs (idempotently) and locates the JVM tools the Kotlin tasks need: the Kotlin
//! compiler from npm into `<repo>/.tools/kotlin` (its distribution also carries the
//! kotlinx-coroutines jar `android/ward-kit` compiles against, checked by version and SHA-256),
//! and JNA, JUnit 4 and Hamcrest from Debian packages into /usr/share/java. A Java 17+ runtime must already be on the PATH. Also installs
//! moto server (the AWS emulator the backend tests use) into a Python venv under the same dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util;

/// The npm package holding the full JetBrains Kotlin distribution (`bin/kotlinc`, `lib/*.jar`).
const KOTLIN_NPM: &str = "kotlin-compiler";
/// Its pinned version.
const KOTLIN_VERSION: &str = "2.4.20";
/// The kotlinx-coroutines release inside that distribution (`lib/kotlinx-coroutines-core-jvm.jar`,
/// its `META-INF/kotlinx_coroutines_core.version`). The registries these machines reach serve no
/// Maven artifacts, so ward-kit's JVM build takes the jar from the pinned compiler package; the
/// app's Gradle build pins the same version in android/gradle/libs.versions.toml.
pub const COROUTINES_VERSION: &str = "1.8.0";
/// SHA-256 of that jar as shipped in kotlin-compiler@2.4.20: a changed jar fails the build.
const COROUTINES_SHA256: &str = "9860906a1937490bf5f3b06d2f0e10ef451e65b95b269f22daf68a3d1f5065c5";
/// Debian packages providing the jars below.
const DEBIAN_PACKAGES: [&str; 3] = ["libjna-java", "junit4", "libhamcrest-java"];
/// Where Debian puts Java libraries.
const SYSTEM_JARS: &str = "/usr/share/java";

/// Paths of the installed JVM tools.
#[derive(Debug, Clone)]
pub struct Jvm {
    /// The `kotlinc` launcher script.
    pub kotlinc: PathBuf,
    /// The Kotlin standard library (needed at run time).
    pub kotlin_stdlib: PathBuf,
    /// JNA (the generated bindings call the core through it).
    pub jna: PathBuf,
    /// JUnit 4.
    pub junit: PathBuf,
    /// Hamcrest (JUnit 4's matcher dependency).
    pub hamcrest: PathBuf,
    /// kotlinx-coroutines-core-jvm [`COROUTINES_VERSION`] (ward-kit's dispatchers and flows).
    pub coroutines: PathBuf,
}

/// Installs whatever is missing and returns where everything is.
pub fn ensure_jvm() -> Result<Jvm> {
    check_java()?;
    let kotlin_home = ensure_kotlin()?;
    ensure_debian_jars()?;
    let coroutines = kotlin_home
        .join("lib")
        .join("kotlinx-coroutines-core-jvm.jar");
    verify_sha256(&coroutines, COROUTINES_SHA256).with_context(|| {
        format!("kotlinx-coroutines {COROUTINES_VERSION} from {KOTLIN_NPM}@{KOTLIN_VERSION}")
    })?;
    let jars = Path::new(SYSTEM_JARS);
    Ok(Jvm {
        kotlinc: kotlin_home.join("bin").join("kotlinc"),
        kotlin_stdlib: kotlin_home.join("lib").join("kotlin-stdlib.jar"),
        jna: jars.join("jna.jar"),
        junit: jars.join("junit4.jar"),
        hamcrest: find_hamcrest()?.context("hamcrest jar missing after install")?,
        coroutines,
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails unless `path`'s SHA-256 is `expected` (lower-case hex).
pub fn verify_sha256(path: &Path, expected: &str) -> Result<()> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let actual = sha256_hex(&bytes);
    if actual != expected {
        bail!(
            "{} has SHA-256 {actual}, expected {expected}",
            path.display()
        );
    }
    Ok(())
}

fn check_java() -> Result<()> {
    let out = Command::new("java").arg("-version").output().context(
        "`java` not found on PATH: install a JDK 17 or newer (Debian: openjdk-17-jdk-headless)",
    )?;
    if !out.status.success() {
        bail!(
            "`java -version` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `.tools/kotlin/node_modules/kotlin-compiler`, installed with npm when missing or of another
/// version.
fn ensure_kotlin() -> Result<PathBuf> {
    let prefix = tools_dir().join("kotlin");
    let home = prefix.join("node_modules").join(KOTLIN_NPM);
    if kotlin_ready(&home) {
        return Ok(home);
    }
    fs::create_dir_all(&prefix).with_context(|| format!("creating {}", prefix.display()))?;
    eprintln!(
        "xtask: installing {KOTLIN_NPM}@{KOTLIN_VERSION} into {}",
        prefix.display()
    );
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    util::run(
        Command::new(npm)
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-save", "--no-audit", "--no-fund"])
            .arg(format!("{KOTLIN_NPM}@{KOTLIN_VERSION}")),
    )
    .context("installing the Kotlin compiler with npm (is Node.js/npm installed?)")?;
    if !kotlin_ready(&home) {
        bail!(
            "npm installed {KOTLIN_NPM} but {} or its jars are missing",
            home.join("bin").join("kotlinc").display()
        );
    }
    Ok(home)
}

fn kotlin_ready(home: &Path) -> bool {
    let version_ok = fs::read_to_string(home.join("package.json"))
        .map(|p| p.contains(&format!("\"version\": \"{KOTLIN_VERSION}\"")))
        .unwrap_or(false);
    version_ok
        && home.join("bin").join("kotlinc").is_file()
        && home.join("lib").join("kotlin-stdlib.jar").is_file()
}

fn find_hamcrest() -> Result<Option<PathBuf>> {
    let dir = Path::new(SYSTEM_JARS);
    for name in ["hamcrest.jar", "hamcrest-core.jar", "hamcrest-all.jar"] {
        if dir.join(name).is_file() {
            return Ok(Some(dir.join(name)));
        }
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        let is_hamcrest = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("hamcrest") && n.ends_with(".jar"));
        if is_hamcrest {
            found.push(path);
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

fn debian_jars_present() -> Result<bool> {
    let dir = Path::new(SYSTEM_JARS);
    Ok(dir.join("jna.jar").is_file()
        && dir.join("junit4.jar").is_file()
        && find_hamcrest()?.is_some())
}

fn ensure_debian_jars() -> Result<()> {
    if debian_jars_present()? {
        return Ok(());
    }
    eprintln!(
        "xtask: installing {} with apt-get",
        DEBIAN_PACKAGES.join(" ")
    );
    let sudo = !is_root()?;
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
    apt(&["update"]).context("apt-get update (Debian/Ubuntu is required for the JVM test jars)")?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(DEBIAN_PACKAGES);
    apt(&install)?;
    if !debian_jars_present()? {
        bail!(
            "apt-get installed {} but the jars are not in {SYSTEM_JARS}",
            DEBIAN_PACKAGES.join(" ")
        );
    }
    Ok(())
}

fn is_root() -> Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u`")?;
    Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Where downloaded tools live: `WARD_TOOLS_DIR`, else `<repo>/.tools` (CI points it at a cache
/// outside the clone so a fresh clone does not download the Kotlin compiler again).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("WARD_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::root().join(".tools"))
}

/// The moto release installed for the AWS-emulator tests (DynamoDB, S3 and KMS on one port).
const MOTO_VERSION: &str = "5.2.5";
/// Written into the venv after a successful install; holds the pip requirement installed.
const MOTO_STAMP: &str = "ward-moto-version";

/// Installs `moto[server]` into a Python venv at `tools_dir()/moto-venv` when it is missing or
/// of another version, and returns the venv's `moto_server` executable. Needs `python3` (3.9+)
/// with the `venv` module (Debian: python3-venv).
pub fn ensure_moto() -> Result<PathBuf> {
    let venv = tools_dir().join("moto-venv");
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let server = bin.join(if cfg!(windows) {
        "moto_server.exe"
    } else {
        "moto_server"
    });
    let requirement = format!("moto[server]=={MOTO_VERSION}");
    let stamp = venv.join(MOTO_STAMP);
    let installed = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == requirement);
    if installed && server.is_file() {
        return Ok(server);
    }
    let python = bin.join(if cfg!(windows) {
        "python.exe"
    } else {
        "python"
    });
    if !python.is_file() {
        fs::create_dir_all(tools_dir())
            .with_context(|| format!("creating {}", tools_dir().display()))?;
        let python3 = if cfg!(windows) { "python" } else { "python3" };
        util::run(Command::new(python3).args(["-m", "venv"]).arg(&venv)).with_context(|| {
            format!(
                "creating a Python venv at {} (is python3 with the venv module installed? \
                 Debian: python3-venv)",
                venv.display()
            )
        })?;
    }
    eprintln!("xtask: installing {requirement} into {}", venv.display());
    util::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(&requirement),
    )
    .with_context(|| format!("installing {requirement} with pip"))?;
    if !server.is_file() {
        bail!(
            "pip installed {requirement} but {} is missing",
            server.display()
        );
    }
    fs::write(&stamp, &requirement).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(server)
}
