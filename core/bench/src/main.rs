//! Ward core benchmarks. Every figure is printed next to a baseline measured in the same run,
//! on the same data, on the same disk, and as a ratio; goals from the issue are printed beside
//! them. Run with `cargo xtask bench` (release build). Timings are medians.
//!
//! Note: fsync on these machines hits a host write-back cache, far faster than phone flash, so
//! absolute write times are optimistic; the ratios are what carries over.

mod alloc;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ward_core::capture::fixture::jpeg_of_size;
use ward_core::capture::jpeg::{StripPolicy, strip_metadata};
use ward_core::clock::SystemClock;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::vault::blobs::{BlobStore, sync_dir};
use ward_core::{Identity, SoftwareKeyStore, Vault};
use ward_proto::envelope::Envelope;
use ward_proto::stream::DEFAULT_CHUNK_SIZE;
use ward_proto::{DeviceId, Kind, ObjectId, ObjectRef, TenantId, TenantKey, VersionId};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const MB: usize = 1 << 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, ours: Duration, base: Duration, base_name: &str, goal: &str) {
    let ratio = ours.as_secs_f64() / base.as_secs_f64();
    println!(
        "| {name} | {:.2} ms | {base_name}: {:.2} ms | {ratio:.2}x | {goal} |",
        ms(ours),
        ms(base)
    );
}

fn bench_dir() -> Result<tempfile::TempDir> {
    // Same disk as the work tree (not tmpfs), so fsync is real.
    let base = std::env::var_os("WARD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ward-bench"));
    fs::create_dir_all(&base)?;
    Ok(tempfile::tempdir_in(base)?)
}

fn plain_write(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

fn plain_write_chunked(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = File::create(path)?;
    for c in data.chunks(MB) {
        f.write_all(c)?;
    }
    f.sync_all()?;
    Ok(())
}

fn plain_atomic_write(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    plain_write(&tmp, data)?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)?;
    Ok(())
}

fn new_vault(dir: &Path) -> Result<Arc<Vault>> {
    let ks = SoftwareKeyStore::new(dir.join("ks").display().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ident = Identity {
        tenant: TenantId::random(),
        device: DeviceId::random(),
        actor: "bench".into(),
    };
    Ok(Vault::create(
        dir.join("vault"),
        ident,
        ks,
        Arc::new(SystemClock),
    )?)
}

fn capture(runs: usize) -> Result<()> {
    println!("\n## Photo capture: strip + encrypt + write + fsync vs plain write + fsync\n");
    println!("| case | ours | baseline | ratio | goal |\n|---|---|---|---|---|");
    for size in [8 * MB, 24 * MB] {
        let img = jpeg_of_size(size, 7);
        let label = format!("{} MB", size / MB);
        let dir = bench_dir()?;
        let blobs = BlobStore::open(dir.path().join("blobs"))?;
        let tk = TenantKey::generate(1)?;
        let tenant = TenantId::random();
        let vdir = bench_dir()?;
        let vault = new_vault(vdir.path())?;
        vault.set_policy(ward_core::Policy {
            photo_consent_required: false,
            ..Default::default()
        })?;
        let client = vault
            .create_client(ClientInput {
                display_name: "B".into(),
                date_of_birth: None,
                external_ref: None,
            })?
            .client_id;
        let (mut plain, mut chunked, mut atomic, mut ours, mut call) =
            (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..runs {
            // Rotate the order so no case always runs right after another's fsync.
            for step in 0..5 {
                match (step + i) % 5 {
                    0 => {
                        let t = Instant::now();
                        plain_write(&dir.path().join(format!("plain{i}")), &img)?;
                        plain.push(t.elapsed());
                    }
                    1 => {
                        let t = Instant::now();
                        plain_write_chunked(&dir.path().join(format!("chunked{i}")), &img)?;
                        chunked.push(t.elapsed());
                    }
                    2 => {
                        let t = Instant::now();
                        plain_atomic_write(dir.path(), &format!("atomic{i}"), &img)?;
                        atomic.push(t.elapsed());
                    }
                    3 => {
                        let t = Instant::now();
                        let s = strip_metadata(&img, &StripPolicy::default())?;
                        let obj = ObjectRef {
                            tenant,
                            object: ObjectId::random(),
                            version: VersionId::random(),
                            kind: Kind::PhotoContent,
                        };
                        blobs.write_stream(
                            obj,
                            (&tk).into(),
                            &[&s.head, s.scan],
                            DEFAULT_CHUNK_SIZE,
                        )?;
                        ours.push(t.elapsed());
                    }
                    _ => {
                        let t = Instant::now();
                        vault.capture_photo(&client, &img, PhotoInput::default(), None)?;
                        call.push(t.elapsed());
                    }
                }
            }
        }
        let (plain, chunked, atomic, ours, call) = (
            median(plain),
            median(chunked),
            median(atomic),
            median(ours),
            median(call),
        );
        row(
            &format!("{label}: same"),
            ours,
            chunked,
            "write in 1 MiB pieces+fsync",
            "-",
        );
        row(
            &format!("{label}: strip+encrypt+write+fsync"),
            ours,
            plain,
            "write+fsync",
            "<= 1.15x",
        );
        row(
            &format!("{label}: same"),
            ours,
            atomic,
            "tmp+fsync+rename+dir fsync",
            "-",
        );
        row(
            &format!("{label}: Vault::capture_photo (adds SQLite commit + audit)"),
            call,
            plain,
            "write+fsync",
            "-",
        );
        let t = Instant::now();
        let thumb = ward_core::capture::jpeg::thumbnail(&img, 320, Some(1))?;
        println!(
            "| {label}: thumbnail (DCT-scaled decode, after capture returns) | {:.1} ms | - | - | - |",
            ms(t.elapsed())
        );
        drop(thumb);
    }
    Ok(())
}

fn stream_crypto(runs: usize) -> Result<()> {
    println!("\n## Stream encryption in memory (24 MB)\n");
    println!("| case | time | throughput | ratio |\n|---|---|---|---|");
    let data: Vec<u8> = (0..24 * MB).map(|i| (i * 131 % 251) as u8).collect();
    let tk = TenantKey::generate(1)?;
    let obj = ObjectRef {
        tenant: TenantId::random(),
        object: ObjectId::random(),
        version: VersionId::random(),
        kind: Kind::PhotoContent,
    };
    let key_bytes = [9u8; 32];
    let ring_key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &key_bytes).map_err(|_| anyhow::anyhow!("ring key"))?,
    );
    let (mut ours, mut ring_copy, mut ring_inplace, mut age_t) = (vec![], vec![], vec![], vec![]);
    let mut buf = data.clone();
    // Output buffers allocated (and faulted in) once, outside the timed loop, for both sides.
    let mut env_out = Vec::new();
    Envelope::seal_parts_into(obj, &tk, &[&data], DEFAULT_CHUNK_SIZE, &mut env_out)?;
    let mut ring_out = data.clone();
    let age_id = age::x25519::Identity::generate();
    let age_rcpt = age_id.to_public();
    for _ in 0..runs {
        let t = Instant::now();
        Envelope::seal_parts_into(obj, &tk, &[&data], DEFAULT_CHUNK_SIZE, &mut env_out)?;
        ours.push(t.elapsed());
        std::hint::black_box(&env_out);

        let t = Instant::now();
        ring_out.copy_from_slice(&data);
        let tag = ring_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::empty(),
                &mut ring_out,
            )
            .map_err(|_| anyhow::anyhow!("ring"))?;
        ring_copy.push(t.elapsed());
        let _ = std::hint::black_box(tag);

        let t = Instant::now();
        let tag = ring_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::empty(),
                &mut buf,
            )
            .map_err(|_| anyhow::anyhow!("ring"))?;
        ring_inplace.push(t.elapsed());
        let _ = std::hint::black_box(tag);

        let t = Instant::now();
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&age_rcpt as &dyn age::Recipient))?;
        let mut out = Vec::with_capacity(data.len() + 4096);
        let mut w = enc.wrap_output(&mut out)?;
        w.write_all(&data)?;
        w.finish()?;
        age_t.push(t.elapsed());
        std::hint::black_box(out);
    }
    let gbps = |d: Duration| data.len() as f64 / d.as_secs_f64() / 1e9;
    let (ours, rc, ri, ag) = (
        median(ours),
        median(ring_copy),
        median(ring_inplace),
        median(age_t),
    );
    println!(
        "| Ward envelope (64 KiB chunks, into a reused buffer) | {:.2} ms | {:.2} GB/s | - |",
        ms(ours),
        gbps(ours)
    );
    println!(
        "| raw ring AES-256-GCM, copy into a reused buffer + one-shot seal | {:.2} ms | {:.2} GB/s | ours at {:.2}x of ring's throughput (goal >= 0.8x) |",
        ms(rc),
        gbps(rc),
        rc.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "| raw ring AES-256-GCM, in place (no copy) | {:.2} ms | {:.2} GB/s | ours at {:.2}x |",
        ms(ri),
        gbps(ri),
        ri.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "| age 0.12 streaming (x25519 recipient) | {:.2} ms | {:.2} GB/s | ours {:.1}x faster (goal: faster) |",
        ms(ag),
        gbps(ag),
        ag.as_secs_f64() / ours.as_secs_f64()
    );
    Ok(())
}

fn memory() -> Result<()> {
    println!("\n## Peak heap while encrypting to disk and decrypting from disk\n");
    println!(
        "| photo | encrypt (write_stream) | streamed decrypt (copy_to) | whole-buffer decrypt (read_all) |\n|---|---|---|---|"
    );
    let dir = bench_dir()?;
    let blobs = BlobStore::open(dir.path().join("blobs"))?;
    let tk = TenantKey::generate(1)?;
    for size in [8 * MB, 24 * MB] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
        let obj = ObjectRef {
            tenant: TenantId::random(),
            object: ObjectId::random(),
            version: VersionId::random(),
            kind: Kind::PhotoContent,
        };
        let enc = alloc::peak_during(|| {
            blobs.write_stream(obj, (&tk).into(), &[&data], DEFAULT_CHUNK_SIZE)
        })?;
        let dec = alloc::peak_during(|| -> Result<u64> {
            Ok(blobs.reader(&obj, &tk)?.copy_to(&mut std::io::sink())?)
        })?;
        let all = alloc::peak_during(|| -> Result<usize> {
            Ok(blobs.reader(&obj, &tk)?.read_all()?.len())
        })?;
        println!(
            "| {} MB | {:.2} MiB | {:.3} MiB | {:.2} MiB (the output itself) |",
            size / MB,
            enc as f64 / MB as f64,
            dec as f64 / MB as f64,
            all as f64 / MB as f64
        );
    }
    Ok(())
}

fn note_text(i: usize) -> String {
    let words = [
        "patient",
        "reports",
        "mild",
        "erythema",
        "left",
        "cheek",
        "improving",
        "since",
        "last",
        "visit",
        "plan",
        "continue",
        "topical",
        "review",
        "in",
        "two",
        "weeks",
    ];
    (0..80)
        .map(|j| words[(i * 7 + j * 3) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn notes(runs: usize) -> Result<()> {
    println!("\n## 10k notes\n");
    println!("| case | ours | baseline | ratio | goal |\n|---|---|---|---|---|");
    let n = 10_000;
    let bodies: Vec<NoteBody> = (0..n)
        .map(|i| NoteBody::Text { text: note_text(i) })
        .collect();
    let (mut ours, mut base) = (vec![], vec![]);
    let mut last_vault = None;
    for _ in 0..runs {
        let dir = bench_dir()?;
        let vault = new_vault(dir.path())?;
        let client = vault
            .create_client(ClientInput {
                display_name: "Client 0".into(),
                date_of_birth: None,
                external_ref: None,
            })?
            .client_id;
        let t = Instant::now();
        vault.create_notes(&client, bodies.clone())?;
        ours.push(t.elapsed());

        // Baseline: the same rows (objects + audit chain) with the JSON in clear.
        let bdir = bench_dir()?;
        let mut conn = rusqlite::Connection::open(bdir.path().join("plain.db"))?;
        ward_core::vault::schema::prepare(&conn)?;
        ward_core::vault::schema::init(&mut conn)?;
        let ident = Identity {
            tenant: TenantId::random(),
            device: DeviceId::random(),
            actor: "bench".into(),
        };
        let client_id = ObjectId::random();
        let t = Instant::now();
        let tx = conn.transaction()?;
        for b in &bodies {
            let NoteBody::Text { text } = b else { continue };
            let json = serde_json::to_vec(&serde_json::json!({
                "client_id": client_id, "body": {"type": "text", "text": text}, "status": "draft",
                "author": "bench", "created_at_ms": 0
            }))?;
            let id = ObjectId::random();
            tx.execute(
                "INSERT INTO objects (object_id, version_id, kind, client_id, created_at, envelope)
                 VALUES (?1, ?2, 2, ?3, 0, ?4)",
                rusqlite::params![
                    id.as_bytes(),
                    VersionId::random().as_bytes(),
                    client_id.as_bytes(),
                    json
                ],
            )?;
            ward_core::vault::audit::append(
                &tx,
                &ident,
                0,
                ward_core::vault::audit::Action::Create,
                Some(Kind::Note),
                Some(id),
                Some(client_id),
            )?;
        }
        tx.commit()?;
        base.push(t.elapsed());
        last_vault = Some((dir, vault, client));
    }
    row(
        "insert 10k notes, one transaction",
        median(ours),
        median(base),
        "same rows unencrypted",
        "<= 1.3x",
    );

    let (dir, vault, client) = last_vault.context("no run")?;
    // 199 more clients so name search has something to search.
    for i in 1..200 {
        vault.create_client(ClientInput {
            display_name: format!("Client {i} Surname{i}"),
            date_of_birth: None,
            external_ref: None,
        })?;
    }
    let (mut unlock, mut search_name, mut search_text) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        vault.lock();
        let t = Instant::now();
        vault.unlock()?;
        let list = vault.list_notes(&client)?;
        unlock.push(t.elapsed());
        assert_eq!(list.len(), n);
        let t = Instant::now();
        let hits = vault.search("surname150", 50)?;
        search_name.push(t.elapsed());
        assert_eq!(hits.len(), 1);
        let t = Instant::now();
        let hits = vault.search("erythema left cheek improving", 10_000)?;
        search_text.push(t.elapsed());
        std::hint::black_box(hits);
    }
    println!(
        "| unlock + list 10k notes | {:.1} ms | - | - | <= 150 ms |",
        ms(median(unlock))
    );
    println!(
        "| search 200 clients + 10k notes by client name | {:.1} ms | - | - | <= 50 ms |",
        ms(median(search_name))
    );
    println!(
        "| search 10k notes by text (all scanned) | {:.1} ms | - | - | <= 50 ms |",
        ms(median(search_text))
    );
    drop(dir);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("--runs=")?.parse().ok())
        .unwrap_or(11);
    println!("# Ward core benchmarks (release; medians of {runs} runs; baselines in the same run)");
    let only = args
        .iter()
        .find_map(|a| a.strip_prefix("--only="))
        .unwrap_or("all");
    let on = |s: &str| only == "all" || only.split(',').any(|o| o == s);
    if on("capture") {
        capture(runs)?;
    }
    if on("stream") {
        stream_crypto(runs)?;
    }
    if on("memory") {
        memory()?;
    }
    if on("notes") {
        notes(runs.min(5))?;
    }
    Ok(())
}
