package org.ward.kit

import org.ward.core.LeaseState
import org.ward.core.SyncStatus

/**
 * The device-wide notice every screen shows above its content (not only the sync screen):
 * a pending remote wipe, the offline lease about to run out (the phone wipes itself if it does
 * not reach the server), or a rate limit from the server. `null` when there is nothing to say.
 * Every view model exposes it as `notice` (from [WardSession.notice]).
 */
fun deviceNotice(s: SyncStatus, nowMs: Long): String? = when {
    s.wipePending -> WIPE_PENDING_NOTICE
    else -> leaseNotice(s.lease, nowMs)
}

/** The lease part of [deviceNotice]: the days before the lease runs out, and after. */
fun leaseNotice(lease: LeaseState, nowMs: Long): String? = when (lease) {
    is LeaseState.Warning -> "Connect within ${ageText(lease.expiresAtMs - nowMs)} or this phone's Ward data will be wiped."
    is LeaseState.Expired -> "Offline too long: this phone's Ward data will be wiped."
    else -> null
}

/** Shown while a verified wipe command is pending (every data call fails with WipePending). */
const val WIPE_PENDING_NOTICE =
    "This phone was revoked by your clinic: its Ward data is hidden and will be wiped. Connect to hand over unsynced work."

/** Shown after a 429: when the next sync may run. */
fun rateLimitNotice(retryAfterSeconds: Long): String =
    "The server asked Ward to slow down: next sync in ${waitText(retryAfterSeconds)}."

/** "under a minute", "5 minutes", "2 hours": how long to wait. */
fun waitText(seconds: Long): String = ageText(seconds * 1000).let { if (it == "just now") "under a minute" else it }
