//! The background sweep: finishes revocations a failed request left unfinished (see
//! [`crate::domain::revocation`]). `ward-server` runs it every minute; on AWS a scheduled
//! function (`ward-lambda` started with handler `sweep`) runs it.

use std::time::Duration;

use crate::AppState;

/// How often `ward-server` sweeps.
pub const EVERY: Duration = Duration::from_secs(60);

/// One sweep; logs what it finished. Returns the number of revocations finished.
pub async fn run_once(state: &AppState) -> u32 {
    match crate::domain::revocation::sweep(state.env()).await {
        Ok(0) => 0,
        Ok(n) => {
            tracing::info!(finished = n, "sweep finished unfinished revocations");
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "sweep failed; the next one tries again");
            0
        }
    }
}

/// Sweeps every `every` until the task is dropped.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            run_once(&state).await;
        }
    })
}
