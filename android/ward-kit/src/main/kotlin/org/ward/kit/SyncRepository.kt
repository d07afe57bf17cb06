package org.ward.kit

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.ward.core.PasskeyProvider
import org.ward.core.SyncListener
import org.ward.core.SyncStatus
import org.ward.core.SyncSummary
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
class SyncRepository(private val session: WardSession) {
    @Volatile
    private var sync: WardSync? = null

    private suspend fun <T> onSync(block: (WardSync) -> T): T = withContext(session.dispatchers.sync) {
        val s = sync ?: WardSync(session.requireVault()).also { sync = it }
        block(s)
    }

    /** Device status, unsynced counts and the lease, for the status screen. */
    suspend fun status(): SyncStatus = onSync { it.status() }

    /**
     * Call after every unlock at app start: when the offline lease ran out the core wipes the
     * vault, and the session moves to Wiped (the enrollment screen). Returns whether it wiped.
     */
    suspend fun enforceLease(): Boolean =
        onSync { it.enforceLease() }.also { wiped -> if (wiped) session.markWiped() }

    suspend fun enroll(server: String, inviteCode: String, userName: String, deviceName: String, passkey: PasskeyProvider): String =
        onSync { it.enroll(server, inviteCode, userName, deviceName, passkey) }

    suspend fun login(passkey: PasskeyProvider): String = onSync { it.login(passkey) }

    suspend fun refresh(): String = onSync { it.refresh() }

    suspend fun downloadPhoto(photoId: String): Boolean = onSync { it.downloadPhoto(photoId) }

    /** Runs one sync, emitting progress then the summary. */
    fun syncNow(): Flow<SyncEvent> = callbackFlow {
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
