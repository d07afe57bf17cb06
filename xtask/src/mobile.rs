//! Packaging the core for the apps: `cargo xtask ios-package` (XCFramework + Swift bindings for
//! the `ios/` Swift package) and `cargo xtask android-package` (cargo-ndk libraries into the
//! app's jniLibs + the Android copy of the Kotlin bindings).
//!
//! Neither can run on the project's Linux machines (no Xcode, no Android NDK): each checks its
//! toolchain first and stops with a message saying what is missing, before building anything.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::kotlin;
use crate::util::{self, Profile};

/// Rust targets of the XCFramework: device, Apple-silicon simulator, Intel simulator.
const IOS_TARGETS: [&str; 3] = [
    "aarch64-apple-ios",
    "aarch64-apple-ios-sim",
    "x86_64-apple-ios",
];
/// Android ABIs (cargo-ndk names) and their Rust targets.
const ANDROID_ABIS: [(&str, &str); 3] = [
    ("arm64-v8a", "aarch64-linux-android"),
    ("armeabi-v7a", "armv7-linux-androideabi"),
    ("x86_64", "x86_64-linux-android"),
];
/// Name of the XCFramework (and so of the Swift package's binary target folder).
const XCFRAMEWORK: &str = "WardCoreFFI.xcframework";

/// Builds `ios/WardCoreFFI.xcframework` (release static libraries: device, and a lipo'd
/// universal simulator library) and copies the generated Swift into `ios/Sources/WardCore`.
pub fn ios_package() -> Result<()> {
    let mut missing = Vec::new();
    if !cfg!(target_os = "macos") {
        missing.push(format!(
            "a Mac (this machine runs {})",
            std::env::consts::OS
        ));
    }
    for tool in ["xcodebuild", "lipo"] {
        if !has_tool(tool, &["-version"]) && !has_tool(tool, &["-info"]) {
            missing.push(format!(
                "`{tool}` (install Xcode and its command-line tools)"
            ));
        }
    }
    missing.extend(missing_rust_targets(&IOS_TARGETS));
    if !missing.is_empty() {
        bail!(
            "cargo xtask ios-package needs {}.\nIt cannot run on the project's Linux machines; run it on a Mac (see docs/apps.md).",
            missing.join(", ")
        );
    }

    for target in IOS_TARGETS {
        util::cargo(&[
            "build",
            "--release",
            "--lib",
            "-p",
            "ward-core",
            "--target",
            target,
        ])?;
    }
    let bindings = kotlin::bindings(Profile::Debug)?;
    let target_dir = util::target_dir();
    let lib = |t: &str| target_dir.join(t).join("release").join("libward_core.a");

    let sim_dir = target_dir.join("ios-simulator-universal");
    fs::create_dir_all(&sim_dir).with_context(|| format!("creating {}", sim_dir.display()))?;
    let sim_lib = sim_dir.join("libward_core.a");
    util::run(
        Command::new("lipo")
            .arg("-create")
            .arg(lib("aarch64-apple-ios-sim"))
            .arg(lib("x86_64-apple-ios"))
            .arg("-output")
            .arg(&sim_lib),
    )?;

    // The C header and a module map named `module.modulemap` (what Xcode looks for) declaring
    // the `ward_coreFFI` module the generated Swift imports.
    let swift = bindings.join("swift");
    let headers = target_dir.join("ios-headers");
    recreate(&headers)?;
    copy(
        &swift.join("ward_coreFFI.h"),
        &headers.join("ward_coreFFI.h"),
    )?;
    copy(
        &swift.join("ward_coreFFI.modulemap"),
        &headers.join("module.modulemap"),
    )?;

    let ios = util::root().join("ios");
    let out = ios.join(XCFRAMEWORK);
    if out.exists() {
        fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    util::run(
        Command::new("xcodebuild")
            .arg("-create-xcframework")
            .arg("-library")
            .arg(lib("aarch64-apple-ios"))
            .arg("-headers")
            .arg(&headers)
            .arg("-library")
            .arg(&sim_lib)
            .arg("-headers")
            .arg(&headers)
            .arg("-output")
            .arg(&out),
    )?;
    copy(
        &swift.join("ward_core.swift"),
        &ios.join("Sources/WardCore/ward_core.swift"),
    )?;
    eprintln!(
        "xtask: {} and Sources/WardCore/ward_core.swift are ready; open ios/ with XcodeGen (`xcodegen`) or add the package in Xcode",
        out.display()
    );
    Ok(())
}

/// Builds `libward_core.so` for each ABI with cargo-ndk into `android/app/src/main/jniLibs`,
/// and copies the Android Kotlin bindings (uniffi `android = true`) into
/// `android/ward-kit/src/generated/kotlin`, where ward-kit's Gradle build compiles them.
pub fn android_package() -> Result<()> {
    let mut missing = Vec::new();
    if !has_tool("cargo", &["ndk", "--version"]) {
        missing.push("cargo-ndk (`cargo install cargo-ndk`)".to_string());
    }
    let ndk = ["ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"]
        .iter()
        .find_map(std::env::var_os)
        .map(PathBuf::from);
    match &ndk {
        Some(dir) if dir.is_dir() => {}
        Some(dir) => missing.push(format!(
            "the Android NDK (ANDROID_NDK_HOME={} does not exist)",
            dir.display()
        )),
        None => missing.push(
            "the Android NDK (set ANDROID_NDK_HOME; install it with the Android SDK manager)"
                .to_string(),
        ),
    }
    let targets: Vec<&str> = ANDROID_ABIS.iter().map(|(_, t)| *t).collect();
    missing.extend(missing_rust_targets(&targets));
    if !missing.is_empty() {
        bail!(
            "cargo xtask android-package needs {}.\nThe project's Linux machines have no Android SDK/NDK; run it where Android Studio is installed (see docs/apps.md).",
            missing.join(", ")
        );
    }

    let jni = util::root().join("android/app/src/main/jniLibs");
    let jni_str = jni.to_str().context("the repository path is not UTF-8")?;
    let mut args = vec!["ndk"];
    for (abi, _) in ANDROID_ABIS {
        args.extend(["-t", abi]);
    }
    args.extend([
        "-o",
        jni_str,
        "build",
        "--release",
        "--lib",
        "-p",
        "ward-core",
    ]);
    util::cargo(&args)?;

    let bindings = kotlin::bindings(Profile::Debug)?;
    let generated = util::root().join("android/ward-kit/src/generated/kotlin");
    recreate(&generated)?;
    copy_tree(&bindings.join("kotlin-android"), &generated)?;
    eprintln!(
        "xtask: native libraries in {} and Kotlin bindings in {}; build with Android Studio or `./gradlew :app:assembleDebug` in android/",
        jni.display(),
        generated.display()
    );
    Ok(())
}

/// Whether `tool args` runs and exits successfully.
fn has_tool(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The entries of `targets` rustup does not have installed, as messages.
fn missing_rust_targets(targets: &[&str]) -> Vec<String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    targets
        .iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == **t))
        .map(|t| format!("the Rust target {t} (`rustup target add {t}`)"))
        .collect()
}

fn recreate(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", from.display()))?
            .path();
        let dest = to.join(path.file_name().context("a file without a name")?);
        if path.is_dir() {
            fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
            copy_tree(&path, &dest)?;
        } else {
            copy(&path, &dest)?;
        }
    }
    Ok(())
}
