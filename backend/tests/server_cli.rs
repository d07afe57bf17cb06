//! `ward-server`'s command line, run as the built binary: `--help` and `-h` print the usage and
//! exit 0, an unknown argument prints it to stderr and exits 2, and neither starts a server or
//! creates the data folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::process::{Command, Output};

fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward-server"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().unwrap()
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn help_prints_usage_and_creates_nothing() {
    for flag in ["--help", "-h"] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_in(dir.path(), &[flag]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        assert!(stdout.to_lowercase().contains("usage"), "{flag}: {stdout}");
        for needle in ["serve", "backup export", "backup restore", "backup drill"] {
            assert!(stdout.contains(needle), "{flag}: no {needle:?} in {stdout}");
        }
        for var in ward_backend::config::ENV_VARS {
            assert!(
                stdout.contains(var),
                "{flag}: {var} is not documented: {stdout}"
            );
        }
        assert!(
            entries(dir.path()).is_empty(),
            "{flag} created {:?}",
            entries(dir.path())
        );
    }
}

#[test]
fn unknown_argument_prints_usage_to_stderr_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--frobnicate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr.to_lowercase().contains("usage"), "{stderr}");
    assert!(stderr.contains("--frobnicate"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        entries(dir.path()).is_empty(),
        "created {:?}",
        entries(dir.path())
    );
}
