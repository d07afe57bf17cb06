package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.ward.core.ClientView
import org.ward.core.ConsentScope

/** A client's page: identity and a timeline of notes, photos and consents. */
data class TimelineUiState(
    val client: ClientView? = null,
    val items: List<TimelineItem> = emptyList(),
    val hasClinicalConsent: Boolean = false,
    val loading: Boolean = true,
    val error: String? = null,
)

class ClientTimelineViewModel(
    private val clientId: String,
    private val clients: ClientRepository,
    private val notes: NoteRepository,
    private val photos: PhotoRepository,
    private val consents: ConsentRepository,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(TimelineUiState())
    val state: StateFlow<TimelineUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = clients.notice

    init {
        refresh()
    }

    fun refresh() {
        scope.launch {
            _state.value = try {
                val client = clients.get(clientId)
                val n = async { notes.list(clientId) }
                val p = async { photos.list(clientId) }
                val c = async { consents.list(clientId) }
                val consentList = c.await()
                TimelineUiState(
                    client = client,
                    items = timelineOf(n.await(), p.await(), consentList),
                    hasClinicalConsent = consentList.any { it.withdrawnAtMs == null && ConsentScope.CLINICAL in it.scopes },
                    loading = false,
                )
            } catch (e: Exception) {
                _state.value.copy(loading = false, error = userMessage(e))
            }
        }
    }

    /** Records a consent given now (the clinician confirms the scopes with the client). */
    fun recordConsent(scopes: List<ConsentScope>, detail: String?) {
        scope.launch {
            try {
                consents.record(clientId, scopes, detail?.ifBlank { null })
                refresh()
            } catch (e: Exception) {
                _state.value = _state.value.copy(error = userMessage(e))
            }
        }
    }

    fun withdrawConsent(consentId: String) {
        scope.launch {
            try {
                consents.withdraw(consentId)
                refresh()
            } catch (e: Exception) {
                _state.value = _state.value.copy(error = userMessage(e))
            }
        }
    }
}
