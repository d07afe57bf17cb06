//! The sync progress listener the app implements, [`SyncListener`], and its adapter to the
//! engine's [`Progress`] seam (the engine never sees the foreign trait).

use std::sync::Arc;

use crate::sync::report::Progress;

/// Progress of a sync, for a progress bar.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// `phase`: "push", "upload" (bytes) or "pull"; `done` of `total`.
    fn on_progress(&self, phase: String, done: u64, total: u64);
}

/// The app's listener (if any) as the engine's [`Progress`].
pub(crate) struct ListenerProgress(pub(crate) Option<Arc<dyn SyncListener>>);

impl Progress for ListenerProgress {
    fn on_progress(&self, phase: &str, done: u64, total: u64) {
        if let Some(l) = &self.0 {
            l.on_progress(phase.to_string(), done, total);
        }
    }
}
