package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.FlowPreview
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.flow.debounce
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.launch
import org.ward.core.ClientView

/**
 * One row of the client list ("my clients": the clients this phone may hold). [emergencyUntilMs]
 * is set for a client held through break-glass emergency access, which ends by itself then.
 */
data class ClientRow(val clientId: String, val name: String, val detail: String?, val emergencyUntilMs: Long? = null)

/** The client list's state: all clients, or search hits while a query is typed. */
data class ClientListUiState(
    val query: String = "",
    val rows: List<ClientRow> = emptyList(),
    val loading: Boolean = true,
    val error: String? = null,
)

/**
 * Client list with search. Typing updates [ClientListUiState.query] at once and searches
 * (client names and note texts, inside the encrypted vault's index) after [debounceMs].
 */
@OptIn(FlowPreview::class)
class ClientListViewModel(
    private val clients: ClientRepository,
    private val scope: CoroutineScope,
    private val debounceMs: Long = 250,
) {
    private val _state = MutableStateFlow(ClientListUiState())
    val state: StateFlow<ClientListUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = clients.notice
    private val query = MutableStateFlow("")

    init {
        scope.launch {
            query.debounce(debounceMs).distinctUntilChanged().collectLatest { q -> load(q) }
        }
    }

    fun onQueryChange(q: String) {
        _state.value = _state.value.copy(query = q)
        query.value = q
    }

    /** Reloads (after returning from a screen that added a client). */
    fun refresh() {
        scope.launch { load(query.value) }
    }

    /** Adds a client and shows the list again. */
    fun addClient(name: String, dateOfBirth: String?, externalRef: String?, onAdded: (ClientView) -> Unit = {}) {
        scope.launch {
            try {
                val c = clients.create(name.trim(), dateOfBirth?.ifBlank { null }, externalRef?.ifBlank { null })
                load(query.value)
                onAdded(c)
            } catch (e: Exception) {
                _state.value = _state.value.copy(error = userMessage(e))
            }
        }
    }

    private suspend fun load(q: String) {
        _state.value = _state.value.copy(loading = true)
        _state.value = try {
            val rows = if (q.isBlank()) {
                clients.list().map { ClientRow(it.clientId, it.displayName, it.dateOfBirth, it.breakGlassUntilMs) }
            } else {
                // One row per client: the first hit carries the snippet.
                clients.search(q).distinctBy { it.clientId }.map { ClientRow(it.clientId, it.clientName, it.snippet) }
            }
            _state.value.copy(rows = rows, loading = false, error = null)
        } catch (e: Exception) {
            _state.value.copy(loading = false, error = userMessage(e))
        }
    }
}
