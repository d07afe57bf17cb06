package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/** The lock screen's state. */
data class LockUiState(val unlocking: Boolean = false, val error: String? = null)

/**
 * The lock screen. [unlock] asks the session to unlock; on Android the key store's unwrap
 * shows the BiometricPrompt (the Keystore key is biometry-bound), so the view model only shows
 * progress and the outcome. A cancelled prompt is an error message, not a crash; the session's
 * state moves to Unlocked on success, which is what navigates away from this screen.
 */
class LockViewModel(private val session: WardSession, private val scope: CoroutineScope) {
    private val _state = MutableStateFlow(LockUiState())
    val state: StateFlow<LockUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = session.notice

    fun unlock() {
        if (_state.value.unlocking) return
        _state.value = LockUiState(unlocking = true)
        scope.launch {
            _state.value = try {
                session.unlock()
                LockUiState()
            } catch (e: Exception) {
                LockUiState(error = userMessage(e))
            }
        }
    }
}
