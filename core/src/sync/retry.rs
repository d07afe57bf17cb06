//! Retrying transient backend failures (a leaf of `sync`): exponential backoff with jitter,
//! [`ATTEMPTS`] tries, then the failure is reported and the next sync starts over. A 429 is
//! honoured: a short `Retry-After` (up to [`MAX_INLINE_WAIT_SECONDS`]) is waited out here, a
//! longer one is returned at once so the app schedules the next sync no earlier than it says.

use std::time::Duration;

use super::error::SyncError;

/// Attempts per call before a transient failure is reported.
pub const ATTEMPTS: u32 = 4;

/// The longest `Retry-After` waited out inside a call; longer ones end the call.
pub const MAX_INLINE_WAIT_SECONDS: u64 = 5;

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
            Err(SyncError::RateLimited {
                retry_after_seconds,
                ..
            }) if retry_after_seconds <= MAX_INLINE_WAIT_SECONDS && attempt < ATTEMPTS => {
                tracing::debug!(attempt, retry_after_seconds, "rate-limited; waiting");
                tokio::time::sleep(Duration::from_secs(retry_after_seconds)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
