//! Two guards kept in the vault's meta table, beside the records but outside them (neither
//! holds clinical content): the **time floor**, a monotonic high-water mark of time the lease
//! is judged by, and the **pending wipe**, the verified wipe command persisted before the
//! rescue starts so that no restart, crash or lost signal lets the phone show data again.

use std::sync::Arc;

use super::{Ctx, Inner, Vault, meta_get, meta_put};
use crate::clock::TimeFloor;
use crate::error::{CoreError, Result};

/// Meta key of the persisted time floor (ms since the Unix epoch, big-endian).
pub(super) const TIME_FLOOR: &str = "time_floor_ms";
/// Meta key of the pending wipe (the signed command, as the sync layer stored it).
pub(super) const WIPE_PENDING: &str = "wipe_pending";
/// The wall clock is written back at most this often while the app is used.
const FLOOR_SAVE_EVERY_MS: i64 = 60_000;

pub(super) fn load_floor(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(meta_get(conn, TIME_FLOOR)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, i64::from_be_bytes))
}

/// Raises the saved floor to the in-memory one when it moved by at least `every_ms`.
pub(super) fn save_floor(inner: &mut Inner, floor: &TimeFloor, every_ms: i64) -> Result<()> {
    let now = floor.get();
    if now - inner.floor_saved < every_ms.max(1) {
        return Ok(());
    }
    let conn = inner.conn.as_ref().ok_or(CoreError::Wiped)?;
    meta_put(conn, TIME_FLOOR, &now.to_be_bytes())?;
    inner.floor_saved = now;
    Ok(())
}

impl Vault {
    /// The time floor, for the API client to raise with the server's `Date`.
    pub fn time_floor(&self) -> Arc<TimeFloor> {
        self.floor.clone()
    }

    /// Raises the time floor to `ms` (a server time or a signed timestamp) and saves it.
    pub fn observe_time(&self, ms: i64) -> Result<()> {
        self.floor.observe(ms);
        save_floor(&mut self.inner(), &self.floor, 1)
    }

    /// The latest time the device has evidence of: the maximum of the wall clock now, every
    /// wall clock read before, and every server time seen. Saved, so a restart keeps it.
    pub fn trusted_now_ms(&self) -> Result<i64> {
        self.floor.observe(self.clock.now_ms());
        save_floor(&mut self.inner(), &self.floor, 1)?;
        Ok(self.floor.get())
    }

    pub(super) fn note_wall_clock(&self, inner: &mut Inner, now: i64) {
        self.floor.observe(now);
        if let Err(e) = save_floor(inner, &self.floor, FLOOR_SAVE_EVERY_MS) {
            tracing::warn!(error = %e, "saving the time floor");
        }
    }

    /// Persists a verified wipe command: from now on no record is shown or changed, at this
    /// start and every later one, until the wipe finishes.
    pub fn set_wipe_pending(&self, command: &[u8]) -> Result<()> {
        let mut inner = self.inner();
        let conn = inner.conn.as_ref().ok_or(CoreError::Wiped)?;
        meta_put(conn, WIPE_PENDING, command)?;
        inner.wipe_pending = true;
        tracing::warn!("wipe pending: records are no longer shown");
        Ok(())
    }

    /// The pending wipe command, if a wipe was verified and has not finished.
    pub fn wipe_pending(&self) -> Result<Option<Vec<u8>>> {
        self.with_conn(|c| meta_get(c, WIPE_PENDING))
    }

    /// Whether a wipe is pending (records refused with [`CoreError::WipePending`]).
    pub fn is_wipe_pending(&self) -> bool {
        self.inner().wipe_pending
    }

    /// Like [`Vault::with_unlocked`], but also while a wipe is pending: for the wipe itself and
    /// the bookkeeping it needs (the session, the outbox's ciphertext), never to show records.
    pub fn with_unlocked_for_wipe<T>(
        &self,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.unlocked(true, f)
    }
}
