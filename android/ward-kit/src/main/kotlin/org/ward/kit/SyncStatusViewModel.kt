package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.catch
import kotlinx.coroutines.launch
import org.ward.core.SyncStatus
import org.ward.core.SyncSummary

/** The sync screen's figures, already worded. */
data class SyncUiState(
    val enrolled: Boolean = false,
    val deviceStatus: String = "",
    val lastContact: String = "never",
    val unsyncedNotes: Long = 0,
    val unsyncedPhotos: Long = 0,
    val unsyncedClients: Long = 0,
    val unsyncedOther: Long = 0,
    /** Age of the oldest unsynced change ("2 days"), if any. */
    val oldestUnsynced: String? = null,
    /** The core's unsynced-work alarm ("3 notes not synced for 2 days"). */
    val alarm: String? = null,
    /** Offline-lease warning: the phone wipes itself if it does not reach the server. */
    val leaseWarning: String? = null,
    val refused: Long = 0,
    val progress: SyncProgress? = null,
    val syncing: Boolean = false,
    val lastResult: String? = null,
    val error: String? = null,
) {
    val unsyncedTotal: Long get() = unsyncedNotes + unsyncedPhotos + unsyncedClients + unsyncedOther
}

/** Turns the core's status into screen text; [nowMs] is injected for tests. */
fun syncUiState(s: SyncStatus, nowMs: Long): SyncUiState = SyncUiState(
    enrolled = s.enrolled,
    deviceStatus = s.deviceStatus.ifEmpty { "not enrolled" },
    lastContact = s.lastContactMs?.let { ageText(nowMs - it) + " ago" } ?: "never",
    unsyncedNotes = s.unsyncedNotes.toLong(),
    unsyncedPhotos = s.unsyncedPhotos.toLong(),
    unsyncedClients = s.unsyncedClients.toLong(),
    unsyncedOther = s.unsyncedOther.toLong(),
    oldestUnsynced = s.oldestUnsyncedMs?.let { ageText(nowMs - it) },
    alarm = s.unsyncedAlarm,
    leaseWarning = leaseNotice(s.lease, nowMs),
    refused = s.refused.toLong(),
)

/** Sync status (unsynced counts, age alarms, lease) and "sync now" with progress. */
class SyncStatusViewModel(
    private val sync: SyncRepository,
    private val scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private val _state = MutableStateFlow(SyncUiState())
    val state: StateFlow<SyncUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = sync.notice
    private var running: Job? = null

    /** Why the last "sync now" failed; kept across refreshes until the next sync starts. */
    @Volatile private var syncError: String? = null

    fun refresh() {
        scope.launch {
            _state.value = try {
                syncUiState(sync.status(), clock()).copy(lastResult = _state.value.lastResult, error = syncError)
            } catch (e: Exception) {
                _state.value.copy(error = userMessage(e))
            }
        }
    }

    fun syncNow() {
        if (running?.isActive == true) return
        syncError = null
        _state.value = _state.value.copy(syncing = true, error = null, progress = null)
        running = scope.launch {
            sync.syncNow()
                .catch { e ->
                    syncError = userMessage(e)
                    _state.value = _state.value.copy(syncing = false, error = syncError)
                }
                .collect { ev ->
                    when (ev) {
                        is SyncEvent.Progress -> _state.value = _state.value.copy(progress = ev.progress)
                        is SyncEvent.Done -> _state.value = _state.value.copy(
                            syncing = false,
                            progress = null,
                            lastResult = syncResultText(ev.summary),
                        )
                    }
                }
            refresh()
        }
    }

    fun cancel() {
        running?.cancel()
        _state.value = _state.value.copy(syncing = false, progress = null)
    }
}

/**
 * "Sent 3, received 5, photos 1" (and the records this build could not read, kept; and the
 * clients removed from this phone because the user is no longer on their care team).
 */
fun syncResultText(s: SyncSummary): String =
    "Sent ${s.pushed}, received ${s.pulled}, photos ${s.photosUploaded}" +
        (if (s.unreadable > 0u) "; ${s.unreadable} record(s) need a newer Ward (kept on this phone)" else "") +
        if (s.clientsDropped > 0u) {
            "; ${s.clientsDropped} client(s) removed from this phone (no longer on your care team)"
        } else {
            ""
        }
