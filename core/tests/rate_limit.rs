//! A 429 reaches the caller as its own error with the server's retry time, not as "offline",
//! and the retry loop does not hammer a server that asked it to wait.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ward_core::WardError;
use ward_core::clock::SystemClock;
use ward_core::sync::error::{ClientError, SyncError};
use ward_core::sync::retry::retry;
use ward_core::sync::{ApiClient, client::DEFAULT_RETRY_AFTER_SECONDS};
use ward_proto::TenantId;

/// A real HTTP server on a loopback port answering every request with `response`; counts
/// the requests.
fn server(response: &'static str) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 8192];
            let _ = c.read(&mut buf);
            h.fetch_add(1, Ordering::SeqCst);
            let _ = c.write_all(response.as_bytes());
        }
    });
    (url, hits)
}

const BODY: &str = r#"{"error":{"code":"rate_limited","message":"slow down"}}"#;

fn call(url: &str) -> Result<serde_json::Value, SyncError> {
    let api = ApiClient::new(url, TenantId::random(), Arc::new(SystemClock)).unwrap();
    let body = serde_json::json!({});
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(retry(|| {
            api.post_public::<serde_json::Value>("/v1/x", &body)
        }))
}

#[test]
fn a_429_is_rate_limited_with_the_servers_retry_after() {
    let (url, hits) = server(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 17\r\ncontent-type: application/json\r\n\
         content-length: 55\r\nconnection: close\r\n\r\n\
         {\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}",
    );
    assert_eq!(BODY.len(), 55);
    let e = call(&url).unwrap_err();
    match &e {
        SyncError::RateLimited {
            retry_after_seconds,
            message,
        } => {
            assert_eq!(*retry_after_seconds, 17);
            assert_eq!(message, "slow down");
        }
        other => panic!("a 429 came back as {other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "retried before Retry-After");
    match WardError::from(ClientError::from(e)) {
        WardError::RateLimited {
            retry_after_seconds: 17,
            ..
        } => {}
        other => panic!("the app sees {other:?}"),
    }
}

#[test]
fn a_429_without_retry_after_waits_the_default() {
    let (url, _) =
        server("HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    match call(&url) {
        Err(SyncError::RateLimited {
            retry_after_seconds,
            ..
        }) => assert_eq!(retry_after_seconds, DEFAULT_RETRY_AFTER_SECONDS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_short_retry_after_is_waited_out_then_the_call_retried() {
    let (url, hits) = server(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\
         connection: close\r\n\r\n",
    );
    let started = std::time::Instant::now();
    assert!(matches!(call(&url), Err(SyncError::RateLimited { .. })));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "every attempt after the wait"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
}
