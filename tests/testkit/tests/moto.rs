//! Proves the moto harness end to end with nothing but std HTTP: start a private server, create
//! an S3 bucket, put an object, list and read it back, reset, and check the bucket is gone; also
//! that a shared server is started once per process and stopped when its `Moto` drops. These
//! tests fail (never skip) when moto cannot start: install it with `cargo xtask moto`.
#![allow(clippy::unwrap_used, clippy::panic, clippy::print_stderr)] // Test code.

use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use ward_testkit::Moto;

fn start() -> Moto {
    let t = Instant::now();
    let moto = Moto::start().unwrap_or_else(|e| {
        panic!(
            "moto server could not start: {e:#}\n\
             hint: `cargo xtask moto` installs it and prints the path for WARD_MOTO_SERVER"
        )
    });
    eprintln!("moto started on {} in {:?}", moto.endpoint, t.elapsed());
    moto
}

#[test]
fn s3_bucket_object_list_and_reset_with_unsigned_requests() {
    let moto = start();
    let host = format!("127.0.0.1:{}", moto.port);
    let h = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![("Host", host.clone())];
        v.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        v
    };
    let send = |method: &str, path: &str, headers: &[(&str, String)], body: &[u8]| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        moto.request(method, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e:#}\nlog:\n{}", moto.log_tail()))
    };

    let r = send("PUT", "/ward-testkit-bucket", &h(&[]), b"");
    assert_eq!(r.status, 200, "create bucket: {}", r.text());

    // An explicit binary content type, or werkzeug parses the body as a form and stores nothing.
    // public-read because moto answers 403 to an unsigned GET of a private object.
    let object_headers = h(&[
        ("Content-Type", "application/octet-stream"),
        ("x-amz-acl", "public-read"),
    ]);
    let body = b"sealed envelope bytes \x00\x01\x02";
    let r = send(
        "PUT",
        "/ward-testkit-bucket/notes/one.bin",
        &object_headers,
        body,
    );
    assert_eq!(r.status, 200, "put object: {}", r.text());

    let r = send("GET", "/ward-testkit-bucket?list-type=2", &h(&[]), b"");
    assert_eq!(r.status, 200, "list objects: {}", r.text());
    let listing = r.text();
    assert!(listing.contains("<Key>notes/one.bin</Key>"), "{listing}");
    assert!(
        listing.contains(&format!("<Size>{}</Size>", body.len())),
        "{listing}"
    );

    let r = send("GET", "/ward-testkit-bucket/notes/one.bin", &h(&[]), b"");
    assert_eq!((r.status, r.body.as_slice()), (200, body.as_slice()));

    moto.reset().unwrap();

    let r = send("GET", "/ward-testkit-bucket?list-type=2", &h(&[]), b"");
    assert_eq!(
        r.status,
        404,
        "bucket should be gone after reset: {}",
        r.text()
    );
    assert!(r.text().contains("NoSuchBucket"), "{}", r.text());
    let r = send("GET", "/", &h(&[]), b"");
    assert_eq!(r.status, 200, "list buckets: {}", r.text());
    assert!(!r.text().contains("ward-testkit-bucket"), "{}", r.text());
}

#[test]
fn drop_stops_the_server_and_shared_is_started_once() {
    let moto = start();
    let addr = moto.addr();
    drop(moto);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "moto still listening on {addr} after drop"
        );
        sleep(Duration::from_millis(20));
    }

    let a = ward_testkit::shared().unwrap();
    let b = ward_testkit::shared().unwrap();
    assert!(std::ptr::eq(a, b));
    let r = a.request("GET", "/", &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}
