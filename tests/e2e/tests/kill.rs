//! A device process killed with SIGKILL in the middle of syncing, again and again, loses
//! nothing: the `ward` CLI (the core through the FFI facade) syncs against the real backend
//! while the test kills it at random moments; in the end the server holds exactly what the
//! device holds, and the vault still opens.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ward_e2e::{Backend, Store};

fn ward(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ward-cli-e2e"));
    c.arg("--dir").arg(dir).stdin(Stdio::null());
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sigkill_mid_sync_fifty_times_loses_nothing() {
    let b = Backend::start(Store::Embedded, None);
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("device");
    ok(ward(&dev).args([
        "enroll",
        "--server",
        &b.api_url,
        "--tenant",
        &b.tenant,
        "--invite",
        &b.setup_code,
        "--name",
        "Killed admin",
        "--origin",
        &b.origin,
    ]));
    let client = ok(ward(&dev).args(["client", "add", "Kill test"]))
        .trim()
        .to_string();
    let consent = ok(ward(&dev).args(["consent", &client])).trim().to_string();
    let jpeg = tmp.path().join("photo.jpg");
    std::fs::write(
        &jpeg,
        ward_core::capture::fixture::jpeg_of_size(1_500_000, 9),
    )
    .unwrap();

    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut kills_mid_run, mut runs) = (0, 0usize);
    let started = Instant::now();
    while kills_mid_run < 50 {
        assert!(
            runs < 400,
            "only {kills_mid_run} kills landed mid-sync in {runs} runs"
        );
        runs += 1;
        ok(ward(&dev).args([
            "note",
            "bulk",
            &client,
            "20",
            "--prefix",
            &format!("run {runs}"),
        ]));
        if runs % 5 == 0 {
            ok(ward(&dev).args([
                "photo",
                "add",
                &client,
                jpeg.to_str().unwrap(),
                "--consent",
                &consent,
            ]));
        }
        let mut child = ward(&dev)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(next() % 250));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills_mid_run += 1;
        }
        child.wait().unwrap();
    }
    eprintln!(
        "{kills_mid_run} SIGKILLs mid-sync in {runs} runs, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let it finish, then compare.
    ok(ward(&dev).arg("sync"));
    let status = ok(ward(&dev).arg("status"));
    assert!(
        status.contains("unsynced:      0 clients, 0 notes, 0 photos, 0 other; refused 0"),
        "{status}"
    );
    let keys = ward_core::SoftwareKeyStore::new(dev.join("keys").to_str().unwrap().into()).unwrap();
    let vault =
        ward_core::WardVault::open(dev.join("vault").to_str().unwrap().into(), keys).unwrap();
    vault.unlock().unwrap();
    let local: HashSet<(Vec<u8>, Vec<u8>)> = vault
        .inner()
        .with_conn(|c| {
            let mut s = c
                .prepare("SELECT object_id, version_id FROM objects")
                .unwrap();
            let rows = s
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            Ok(rows)
        })
        .unwrap();
    let server: HashSet<(Vec<u8>, Vec<u8>)> = b
        .server_versions()
        .into_iter()
        .map(|(o, v, _)| {
            let o: ward_proto::ObjectId = o.parse().unwrap();
            let v: ward_proto::VersionId = v.parse().unwrap();
            (o.as_bytes().to_vec(), v.as_bytes().to_vec())
        })
        .collect();
    assert_eq!(
        b.server_versions().len(),
        server.len(),
        "no version twice on the server"
    );
    assert_eq!(
        local, server,
        "0 lost: the server holds exactly the device's versions"
    );
    let notes = vault.notes().list(client).unwrap();
    assert_eq!(notes.len(), runs * 20, "every note created is there once");
}
