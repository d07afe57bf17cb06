//! `ward … | head`: a reader that closes the pipe early ends the output quietly (exit 0,
//! nothing on stderr) instead of the panic `println!` raises on a broken pipe.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use ward_core::domain::clients::ClientInput;
use ward_core::ffi::VaultConfig;
use ward_core::{SoftwareKeyStore, WardVault};

const WARD: &str = env!("CARGO_BIN_EXE_ward");

/// A device folder as `ward enroll` leaves it (vault + key store), without a server.
fn device_with_client(dir: &Path) -> String {
    let keys = SoftwareKeyStore::new(dir.join("keys").to_str().unwrap().into()).unwrap();
    let vault = WardVault::create(
        VaultConfig {
            dir: dir.join("vault").to_str().unwrap().into(),
            tenant_id: "6f1c2a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6".into(),
            device_id: "0d9e8f7a-6b5c-4d3e-9f10-0a1b2c3d4e5f".into(),
            user_id: "pipe-test".into(),
        },
        keys,
    )
    .unwrap();
    vault
        .clients()
        .create(ClientInput {
            display_name: "Pipe Test".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
}

#[test]
fn output_into_a_pipe_closed_early_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let client = device_with_client(dir.path());
    // ~5,000 lines of about 90 bytes: far more than a pipe buffers, so `ward` is still
    // writing when the reader goes away.
    let bulk = Command::new(WARD)
        .arg("--dir")
        .arg(dir.path())
        .args(["note", "bulk", &client, "5000"])
        .output()
        .unwrap();
    assert!(bulk.status.success(), "{bulk:?}");

    let mut child = Command::new(WARD)
        .arg("--dir")
        .arg(dir.path())
        .args(["note", "list", &client])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // `| head -c 64`
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();

    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
    assert!(status.success(), "status {status:?}, stderr: {stderr}");
}

#[test]
fn help_into_a_closed_pipe_exits_quietly() {
    let mut child = Command::new(WARD)
        .arg("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(out.status.success(), "{out:?}");
}
