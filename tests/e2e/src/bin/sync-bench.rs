//! Sync benchmarks (issue 4), run with `cargo xtask bench-sync` (release build): a phone core
//! against the real backend Router (embedded store) through a byte-counting proxy.
//!
//! 1. First sync of 10k notes: requests, wall time, bytes on the wire vs the envelopes' own
//!    size (the baseline: what has to travel at least), for the pushing device and for a
//!    second device pulling them.
//! 2. An idle sync: requests and bytes.
//! 3. A 40 MB photo: upload bytes on the wire vs its ciphertext size.
//! 4. The network cut at 90 % of that upload: bytes sent again after reconnecting vs one
//!    upload part.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark program"
)]

use std::time::Instant;

use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_e2e::{Backend, Device, FaultConfig, Store};

const NOTES: usize = 10_000;
const PART: u64 = ward_proto::api::PART_SIZE;

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / 1048576.0)
}

fn envelope_bytes(d: &Device, kinds: &str) -> u64 {
    d.vault
        .inner()
        .with_conn(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT COALESCE(SUM(LENGTH(envelope)), 0) + COALESCE(SUM(file_len), 0)
                     FROM objects WHERE kind IN ({kinds})"
                ),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64)
        })
        .unwrap()
}

fn main() {
    println!("# Ward sync benchmarks (release, embedded store, loopback, 2 cores)\n");
    let b = Backend::start(Store::Embedded, Some(FaultConfig::none()));
    let proxy = b.proxy.as_ref().unwrap();
    let a = Device::first_admin(&b);
    let reader = Device::staff(&b, &a, "admin", "Second device");
    let client = a
        .vault
        .clients()
        .create(ClientInput {
            display_name: "Bench client".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    for chunk in 0..NOTES / 1000 {
        let bodies = (0..1000)
            .map(|i| NoteBody::Text {
                text: format!(
                    "Home visit {chunk}-{i}: mood stable, sleeping better; reviewed coping plan, \
                     next visit Thursday."
                ),
            })
            .collect();
        a.vault.inner().create_notes(&client, bodies).unwrap();
    }
    let env = envelope_bytes(&a, "1, 2");

    println!("## 1. First sync of {NOTES} notes\n");
    println!(
        "| device | requests | wall time | bytes up | bytes down | envelopes | wire ÷ envelopes | goal |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (u0, d0) = proxy.stats.bytes();
    let t = Instant::now();
    let r = a.sync.sync(None).unwrap();
    let wall = t.elapsed();
    let (u1, d1) = proxy.stats.bytes();
    assert_eq!(r.pushed as usize, NOTES + 1);
    println!(
        "| pushing (A) | {} | {:.2} s | {} | {} | {} | {:.3}× up | ≤ 20 requests: {} |",
        r.requests,
        wall.as_secs_f64(),
        mib(u1 - u0),
        mib(d1 - d0),
        mib(env),
        (u1 - u0) as f64 / env as f64,
        if r.requests <= 20 { "met" } else { "MISSED" }
    );
    let t = Instant::now();
    let r = reader.sync.sync(None).unwrap();
    let wall = t.elapsed();
    let (u2, d2) = proxy.stats.bytes();
    assert!(r.pulled as usize > NOTES);
    println!(
        "| pulling (B, new device) | {} | {:.2} s | {} | {} | {} | {:.3}× down | ≤ 20 requests: {} |",
        r.requests,
        wall.as_secs_f64(),
        mib(u2 - u1),
        mib(d2 - d1),
        mib(env),
        (d2 - d1) as f64 / env as f64,
        if r.requests <= 20 { "met" } else { "MISSED" }
    );
    println!(
        "\nBaseline: the envelopes themselves ({}); base64 in JSON adds a third on the wire.\n",
        mib(env)
    );

    println!("## 2. Idle sync (nothing new on either side)\n");
    let t = Instant::now();
    let r = a.sync.sync(None).unwrap();
    let wall = t.elapsed();
    let (u3, d3) = proxy.stats.bytes();
    let bytes = (u3 - u2) + (d3 - d2);
    println!(
        "requests {}, bytes {} (up {}, down {}), {:.1} ms — goal 1 request under 1 KB: {}\n",
        r.requests,
        bytes,
        u3 - u2,
        d3 - d2,
        wall.as_secs_f64() * 1000.0,
        if r.requests == 1 && bytes < 1024 {
            "met"
        } else {
            "MISSED"
        }
    );

    println!("## 3. Photo upload: bytes on the wire vs ciphertext\n");
    let consent = a
        .vault
        .consents()
        .record(client.clone(), vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id;
    a.sync.sync(None).unwrap();
    let capture = |seed: u64| {
        let jpeg = ward_core::capture::fixture::jpeg_of_size(40 * 1024 * 1024, seed);
        a.vault
            .photos()
            .capture(
                client.clone(),
                jpeg.into(),
                PhotoInput {
                    caption: "bench".into(),
                    body_area: None,
                    consent_id: Some(consent.clone()),
                    series: None,
                    series_label: None,
                },
                Some(ward_core::capture::fixture::jpeg_of_size(20_000, seed + 100).into()),
            )
            .unwrap()
    };
    capture(1);
    let photo_env = envelope_bytes(&a, "4");
    let (u4, _) = proxy.stats.bytes();
    let t = Instant::now();
    let r = a.sync.sync(None).unwrap();
    let wall = t.elapsed();
    let (u5, _) = proxy.stats.bytes();
    assert_eq!(r.photos_uploaded, 1);
    let ratio = (u5 - u4) as f64 / photo_env as f64;
    println!(
        "ciphertext {} ({} parts of {}), bytes up for the whole sync {} → {:.4}× ({} ms) — goal ≤ 1.01×: {}\n",
        mib(photo_env),
        photo_env.div_ceil(PART),
        mib(PART),
        mib(u5 - u4),
        ratio,
        wall.as_millis(),
        if ratio <= 1.01 { "met" } else { "MISSED" }
    );

    println!("## 4. Network cut at 90 % of a photo upload\n");
    capture(2);
    let second = envelope_bytes(&a, "4") - photo_env;
    let cut_at = second * 9 / 10;
    let (ub, _) = proxy.stats.bytes();
    proxy.cut_after_up(cut_at);
    let failed = a.sync.sync(None);
    assert!(failed.is_err(), "the cut should fail the sync");
    let (u6, _) = proxy.stats.bytes();
    proxy.set_down(false);
    let r = a.sync.sync(None).unwrap();
    assert_eq!(r.photos_uploaded, 1);
    let (u7, _) = proxy.stats.bytes();
    let total = u7 - ub;
    let resent = total.saturating_sub(second);
    println!(
        "photo {} ({} parts); network cut after {} had gone up; after reconnecting the sync \
         sent {}. Everything sent for this photo: {} = ciphertext + {} sent twice (and HTTP) — \
         goal ≤ one part ({}): {}",
        mib(second),
        second.div_ceil(PART),
        mib(u6 - ub),
        mib(u7 - u6),
        mib(total),
        mib(resent),
        mib(PART),
        if resent <= PART { "met" } else { "MISSED" }
    );
}
