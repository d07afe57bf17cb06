package org.ward.kit

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.ward.core.PasskeyProvider
import org.ward.core.SyncListener
import org.ward.core.SyncStatus
import org.ward.core.SyncSummary
import org.ward.core.WardException
import org.ward.core.WardSync

/** One progress step of a running sync. */
data class SyncProgress(val phase: String, val done: Long, val total: Long)

/** What a sync emits: progress steps, then the summary (or the flow fails with the error). */
sealed class SyncEvent {
    data class Progress(val progress: SyncProgress) : SyncEvent()
    data class Done(val summary: SyncSummary) : SyncEvent()
}

/**
 * Enrollment, passkey login and sync over [WardSync]. Sync calls block for as long as the
 * network takes, so they run on the dedicated sync dispatcher; cancelling the collecting
 * coroutine cancels the core's sync ([WardSync.cancel]), which the engine survives.
 */
class SyncRepository(
    private val session: WardSession,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    @Volatile
    private var sync: WardSync? = null

    /** The device-wide notice ([WardSession.notice]). */
    val notice: StateFlow<String?> get() = session.notice

    /**
     * No sync (manual or background) before this time: the server answered 429 with a
     * `Retry-After`. Background schedulers read it for their next run ([nextSyncDelayMs]).
     */
    @Volatile
    var notBeforeMs: Long = 0
        private set

    /** How long a background sync must wait before it may run (0: now). */
    fun nextSyncDelayMs(): Long = (notBeforeMs - clock()).coerceAtLeast(0)

    /** Records a 429 so no sync runs before the server's retry time, and says so on every screen. */
    fun rateLimited(e: WardException.RateLimited) {
        notBeforeMs = clock() + e.retryAfterSeconds.toLong() * 1000
        session.publishNotice(rateLimitNotice(e.retryAfterSeconds.toLong()))
    }

    private suspend fun <T> onSync(block: (WardSync) -> T): T = withContext(session.dispatchers.sync) {
        val s = sync ?: WardSync(session.requireVault()).also { sync = it }
        block(s)
    }

    /**
     * Device status, unsynced counts and the lease, for the status screen; it also refreshes
     * the device-wide notice every screen shows (pending wipe, lease warning).
     */
    suspend fun status(): SyncStatus = onSync { it.status() }.also { s ->
        if (s.wipePending) session.markWipePending()
        else if (nextSyncDelayMs() == 0L) session.publishNotice(deviceNotice(s, clock()))
    }

    /**
     * Call after every unlock at app start: when the offline lease ran out the core wipes the
     * vault, and the session moves to Wiped (the enrollment screen). Returns whether it wiped.
     */
    suspend fun enforceLease(): Boolean = try {
        onSync { it.enforceLease() }.also { wiped -> if (wiped) session.markWiped() }
    } catch (e: WardException.WipePending) {
        session.markWipePending()
        false
    }

    suspend fun enroll(server: String, inviteCode: String, userName: String, deviceName: String, passkey: PasskeyProvider): String =
        onSync { it.enroll(server, inviteCode, userName, deviceName, passkey) }

    suspend fun login(passkey: PasskeyProvider): String = onSync { it.login(passkey) }

    suspend fun refresh(): String = onSync { it.refresh() }

    suspend fun downloadPhoto(photoId: String): Boolean = onSync { it.downloadPhoto(photoId) }

    /**
     * Runs one sync, emitting progress then the summary. Before the time a 429 named it fails
     * at once with `RateLimited` (the remaining seconds), without calling the server.
     */
    fun syncNow(): Flow<SyncEvent> = callbackFlow {
        val wait = nextSyncDelayMs()
        if (wait > 0) {
            close(WardException.RateLimited(((wait + 999) / 1000).toULong(), "waiting for the server's retry time"))
            awaitClose {}
            return@callbackFlow
        }
        val listener = object : SyncListener {
            override fun onProgress(phase: String, done: ULong, total: ULong) {
                trySend(SyncEvent.Progress(SyncProgress(phase, done.toLong(), total.toLong())))
            }
        }
        val s = sync ?: WardSync(session.requireVault()).also { sync = it }
        // The blocking sync runs in a child so this producer can wait in awaitClose: when the
        // collector goes away, awaitClose's block asks the core to stop.
        val job = launch {
            try {
                val summary = s.sync(listener)
                send(SyncEvent.Done(summary))
                close()
            } catch (e: WardException.RateLimited) {
                rateLimited(e)
                close(e)
            } catch (e: WardException.WipePending) {
                session.markWipePending()
                close(e)
            } catch (e: WardException.Wiped) {
                session.markWiped()
                close(e)
            } catch (e: Exception) {
                close(e)
            }
        }
        awaitClose { if (job.isActive) s.cancel() }
    }.flowOn(session.dispatchers.sync)

    /** Releases the sync object (the app's process is ending, or the vault was wiped). */
    fun close() {
        sync?.close()
        sync = null
    }
}
