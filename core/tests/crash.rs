//! Crash safety: a child process captures notes and photos in a loop and is killed with
//! SIGKILL at random moments, at least 50 times. After every kill the vault must open, unlock,
//! verify its audit chain, hold no temporary files, and contain every record whose capture
//! call had returned (the child reports each one on stdout right after the call returns).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::clock::SystemClock;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::{Identity, SoftwareKeyStore, Vault};
use ward_proto::{DeviceId, TenantId};

const KILLS: usize = 50;

fn note_text(n: u64) -> String {
    format!("crash-test note {n} ").repeat(1 + (n % 7) as usize)
}

fn photo(seed: u64) -> Vec<u8> {
    fixture::jpeg_fixture(&FixtureSpec {
        width: 320 + (seed % 5) as u32 * 64,
        height: 240,
        seed,
        ..FixtureSpec::default()
    })
}

fn open_vault(dir: &Path) -> Arc<Vault> {
    let ks = SoftwareKeyStore::new(dir.join("keystore").display().to_string()).unwrap();
    let vdir = dir.join("vault");
    if vdir.join("vault.db").exists() {
        let v = Vault::open(&vdir, ks, Arc::new(SystemClock)).unwrap();
        v.unlock().unwrap();
        v
    } else {
        let ident = Identity {
            tenant: TenantId::random(),
            device: DeviceId::random(),
            actor: "c".into(),
        };
        Vault::create(&vdir, ident, ks, Arc::new(SystemClock)).unwrap()
    }
}

/// The child: captures forever, reporting each returned capture. Run only by `crash_test`.
#[test]
#[ignore = "child process of crash_test_sigkill_loses_nothing_that_returned"]
fn crash_child() {
    let Ok(dir) = std::env::var("WARD_CRASH_DIR") else {
        return;
    };
    let start: u64 = std::env::var("WARD_CRASH_START").unwrap().parse().unwrap();
    let vault = open_vault(Path::new(&dir));
    let client = match vault.list_clients().unwrap().first() {
        Some(c) => c.client_id.clone(),
        None => {
            let c = vault
                .create_client(ClientInput {
                    display_name: "Crash".into(),
                    date_of_birth: None,
                    external_ref: None,
                })
                .unwrap();
            c.client_id
        }
    };
    let consent = match vault.list_consents(&client).unwrap().first() {
        Some(c) => c.consent_id.clone(),
        None => {
            vault
                .record_consent(&client, vec![ConsentScope::Clinical], None)
                .unwrap()
                .consent_id
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for n in start.. {
        if n % 4 == 3 {
            let img = photo(n);
            let input = PhotoInput {
                caption: format!("p{n}"),
                consent_id: Some(consent.clone()),
                ..Default::default()
            };
            let cap = vault.capture_photo(&client, &img, input, None).unwrap();
            writeln!(
                out,
                "ok-photo {} {} {n}",
                cap.view.photo_id, cap.view.byte_len
            )
            .unwrap();
        } else {
            let v = vault
                .create_note(&client, NoteBody::Text { text: note_text(n) })
                .unwrap();
            writeln!(out, "ok-note {} {n}", v.note_id).unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn crash_test_sigkill_loses_nothing_that_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut notes: Vec<(String, u64)> = Vec::new();
    let mut photos: Vec<(String, u64)> = Vec::new();
    let mut counter = 0u64;
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("WARD_CRASH_DIR", tmp.path())
            .env("WARD_CRASH_START", counter.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the child is capturing, then kill it at a random moment.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = rx
                .recv_timeout(deadline - Instant::now())
                .expect("child never got ready");
            if line.ends_with("ready") {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(2_000 + next() % 60_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let mut returned = 0;
        for line in rx.try_iter() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["ok-note", id, n] => {
                    let n: u64 = n.parse().unwrap();
                    notes.push((id.to_string(), n));
                    counter = counter.max(n + 1);
                    returned += 1;
                }
                ["ok-photo", id, _len, n] => {
                    let n: u64 = n.parse().unwrap();
                    photos.push((id.to_string(), n));
                    counter = counter.max(n + 1);
                    returned += 1;
                }
                _ => {}
            }
        }
        // Skip past numbers a killed call may have been using.
        counter += 1;
        // Everything that returned is intact.
        let vault = open_vault(tmp.path());
        for (id, n) in &notes {
            let note = vault
                .get_note(id)
                .unwrap_or_else(|e| panic!("round {round}: note {n} lost: {e}"));
            assert_eq!(
                note.body,
                NoteBody::Text {
                    text: note_text(*n)
                },
                "round {round}: note {n}"
            );
        }
        for (id, n) in &photos {
            let bytes = vault
                .read_photo(id)
                .unwrap_or_else(|e| panic!("round {round}: photo {n} lost: {e}"));
            let original = photo(*n);
            let stripped =
                ward_core::capture::jpeg::strip_metadata(&original, &Default::default()).unwrap();
            assert_eq!(
                &bytes[..],
                &stripped.to_vec()[..],
                "round {round}: photo {n}"
            );
        }
        assert!(
            vault.verify_audit_chain().unwrap().is_ok(),
            "round {round}: audit chain broken"
        );
        let leftovers = std::fs::read_dir(tmp.path().join("vault/blobs"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(
            leftovers, 0,
            "round {round}: temporary files survived reopening"
        );
        eprintln!(
            "round {round}: {returned} captures returned; {} notes, {} photos verified",
            notes.len(),
            photos.len()
        );
    }
    assert!(
        notes.len() + photos.len() > KILLS,
        "the child should have captured between kills"
    );
}
