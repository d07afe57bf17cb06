//! What sync calls report back: the counts of one sync, the outcome of a remote wipe, and the
//! progress seam the FFI's listener plugs into (a leaf of `sync`).

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Versions the server stored (or already had).
    pub pushed: u64,
    /// Versions the server refused (kept locally, flagged, not retried).
    pub refused: u64,
    /// Photos uploaded.
    pub photos_uploaded: u64,
    /// Upload parts sent.
    pub parts_sent: u64,
    /// Versions received.
    pub pulled: u64,
    /// Of those, versions this build cannot read (kept in the vault, listed by
    /// `Vault::unreadable_records`).
    pub unreadable: u64,
    /// HTTP requests to the API (presigned part PUTs and GETs not counted).
    pub requests: u64,
    /// Clients whose data was removed from this device because the user may no longer read
    /// them (taken off the care team, a break-glass access ended).
    pub clients_dropped: u64,
}

/// Progress the app can show.
pub trait Progress: Send + Sync {
    /// `phase` is "push", "upload" or "pull"; `done` of `total` (bytes for uploads).
    fn on_progress(&self, phase: &str, done: u64, total: u64);
}

/// No progress reporting.
#[derive(Debug)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn on_progress(&self, _: &str, _: u64, _: u64) {}
}

/// What a wipe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeOutcome {
    /// Record versions uploaded to quarantine first.
    pub rescued: u32,
    /// Photos never uploaded, lost with the vault.
    pub unrescued_photos: u32,
    /// Whether the backend acknowledged the receipt.
    pub receipt_sent: bool,
}
