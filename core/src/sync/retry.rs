//! Retrying transient backend failures (a leaf of `sync`): exponential backoff with jitter,
//! [`ATTEMPTS`] tries, then the failure is reported and the next sync starts over.

use std::time::Duration;

use super::error::SyncError;

/// Attempts per call before a transient failure is reported.
pub const ATTEMPTS: u32 = 4;

/// Runs `f` until it succeeds, fails for good, or `ATTEMPTS` transient failures passed.
pub async fn retry<T, F, Fut>(mut f: F) -> Result<T, SyncError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SyncError>>,
{
    let mut delay_ms = 200u64;
    let mut attempt = 1;
    loop {
        match f().await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                let mut jitter = [0u8; 2];
                let _ = ward_proto::keys::fill_random(&mut jitter);
                let wait = delay_ms + u64::from(u16::from_le_bytes(jitter)) % delay_ms;
                tracing::debug!(attempt, wait_ms = wait, error = %e, "retrying");
                tokio::time::sleep(Duration::from_millis(wait)).await;
                delay_ms = (delay_ms * 2).min(5_000);
                attempt += 1;
            }
            other => return other,
        }
    }
}
