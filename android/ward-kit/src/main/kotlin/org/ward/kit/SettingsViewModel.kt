package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/** What the platform says about its key store (filled in by the app, not the core). */
data class PlatformSecurity(
    val keyStore: String,
    val hardwareBacked: Boolean,
    val biometricsEnrolled: Boolean,
)

/** Settings and device information. */
data class SettingsUiState(
    val tenantId: String = "",
    val deviceId: String = "",
    val userId: String = "",
    val idleLockSeconds: Long = 0,
    val offlineLeaseHours: Long = 0,
    val auditEvents: Long? = null,
    val auditChainOk: Boolean? = null,
    /** Records this build cannot read, kept on the phone ("3 records need a newer Ward"). */
    val unreadableRecords: Long = 0,
    val platform: PlatformSecurity? = null,
    val error: String? = null,
)

/** Device info (ids, policy, audit-chain check, key store) and the user's own wipe. */
class SettingsViewModel(
    private val session: WardSession,
    private val platform: PlatformSecurity,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(SettingsUiState(platform = platform))
    val state: StateFlow<SettingsUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = session.notice

    fun refresh() {
        scope.launch {
            _state.value = try {
                session.call { v ->
                    val st = v.status()
                    val p = v.policy()
                    val verified = v.audit().use { runCatching { it.verify() } }
                    SettingsUiState(
                        tenantId = st.tenantId,
                        deviceId = st.deviceId,
                        userId = st.userId,
                        idleLockSeconds = p.idleLockSeconds.toLong(),
                        offlineLeaseHours = p.offlineLeaseHours.toLong(),
                        auditEvents = verified.getOrNull()?.toLong(),
                        auditChainOk = verified.isSuccess,
                        unreadableRecords = st.unreadableRecords.toLong(),
                        platform = platform,
                    )
                }
            } catch (e: Exception) {
                _state.value.copy(error = userMessage(e))
            }
        }
    }

    fun lockNow() = session.lock()

    /** The user's own wipe (after a confirmation dialog in the UI). */
    fun wipe() {
        scope.launch {
            try {
                session.wipe()
            } catch (e: Exception) {
                _state.value = _state.value.copy(error = userMessage(e))
            }
        }
    }
}
