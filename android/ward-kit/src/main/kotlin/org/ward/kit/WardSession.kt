package org.ward.kit

import java.io.File
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext
import org.ward.core.SecureKeyStore
import org.ward.core.VaultConfig
import org.ward.core.WardException
import org.ward.core.WardVault

/** What the app shows at the top level: which screen the session allows. */
sealed class SessionState {
    /** No vault on this device yet: enrollment / setup. */
    object NoVault : SessionState()

    /** A vault exists and is locked: the lock screen. */
    object Locked : SessionState()

    /** Unlocked: the app's screens. */
    object Unlocked : SessionState()

    /** The vault was wiped (by the user, a wipe command, or an expired lease): re-enroll. */
    object Wiped : SessionState()

    /**
     * An admin revoked this phone and the core holds the verified wipe command: show no data
     * (a "this phone is being wiped" screen); the wipe finishes at the next sync or start.
     */
    object WipePending : SessionState()
}

/**
 * The app's one handle to its vault, and the state machine around it: open or create, unlock
 * (the platform key store may show a biometric prompt), lock, idle lock, wipe.
 *
 * Repositories reach the vault only through [call], which runs the core call on the core
 * dispatcher and turns `WardException.Locked` / `Wiped` from any call into a state change, so
 * the UI falls back to the lock screen wherever the lock happened (idle timeout in the core).
 */
class WardSession(
    private val vaultDir: File,
    private val keyStore: SecureKeyStore,
    val dispatchers: CoreDispatchers,
    private val clock: () -> Long = System::currentTimeMillis,
) : AutoCloseable {
    private val _state = MutableStateFlow<SessionState>(
        if (File(vaultDir, VAULT_DB).exists()) SessionState.Locked else SessionState.NoVault,
    )

    /** The current state; the app's root composable / view switches on it. */
    val state: StateFlow<SessionState> = _state.asStateFlow()

    @Volatile
    private var vault: WardVault? = null

    private val _notice = MutableStateFlow<String?>(null)

    /** The device-wide notice every screen shows ([deviceNotice]); every view model exposes it. */
    val notice: StateFlow<String?> = _notice.asStateFlow()

    /** Sets the device-wide notice (from the sync status, a pending wipe, a rate limit). */
    fun publishNotice(text: String?) {
        _notice.value = text
    }

    /** A wipe command is pending: no data screen, and the notice says why. */
    fun markWipePending() {
        _notice.value = WIPE_PENDING_NOTICE
        _state.value = SessionState.WipePending
    }

    @Volatile
    private var lastInteractionMs: Long = clock()

    /** Creates a new vault for an enrolled user (after enrollment); it starts unlocked. */
    suspend fun create(tenantId: String, deviceId: String, userId: String) {
        withContext(dispatchers.core) {
            val config = VaultConfig(vaultDir.path, tenantId, deviceId, userId)
            replace(WardVault.create(config, keyStore))
        }
        touch()
        _state.value = SessionState.Unlocked
    }

    /**
     * Unlocks, opening the vault from disk first if needed. The key store's unwrap runs here
     * (on the core dispatcher): on Android it waits for the biometric prompt. Throws
     * `WardException.KeyUnavailable` when the user cancels; the state stays Locked.
     */
    suspend fun unlock() {
        withContext(dispatchers.core) {
            val v = vault ?: WardVault.open(vaultDir.path, keyStore).also { replace(it) }
            try {
                v.unlock()
            } catch (e: WardException.Wiped) {
                _state.value = SessionState.Wiped
                throw e
            }
        }
        touch()
        _state.value = SessionState.Unlocked
    }

    /** Locks now (user action, app backgrounded, screen off). */
    fun lock() {
        vault?.lock()
        if (_state.value == SessionState.Unlocked) _state.value = SessionState.Locked
    }

    /** Records user interaction (touches, key presses) for the idle lock. */
    fun touch() {
        lastInteractionMs = clock()
    }

    /**
     * The idle check the app runs from a timer and on returning to the foreground: locks when
     * the user has not interacted for the policy's idle timeout, or when the core's own idle
     * timer (time since the last core call) ran out. Returns whether it locked.
     */
    suspend fun lockIfIdle(): Boolean {
        val v = vault ?: return false
        if (_state.value != SessionState.Unlocked) return false
        val locked = withContext(dispatchers.core) {
            val idleMs = v.policy().idleLockSeconds.toLong() * 1000
            val uiIdle = idleMs > 0 && clock() - lastInteractionMs > idleMs
            if (uiIdle) {
                v.lock()
                true
            } else {
                v.lockIfIdle()
            }
        }
        if (locked) _state.value = SessionState.Locked
        return locked
    }

    /** The core wiped the vault itself (expired offline lease, wipe command): re-enroll. */
    fun markWiped() {
        _state.value = SessionState.Wiped
    }

    /** Crypto-shreds the vault (key first, then files). */
    suspend fun wipe() {
        withContext(dispatchers.core) { requireVault().wipe() }
        _state.value = SessionState.Wiped
    }

    /**
     * Runs [block] against the vault on the core dispatcher. A `Locked`, `Wiped` or
     * `WipePending` error also moves [state], then is rethrown for the caller to show.
     */
    suspend fun <T> call(block: (WardVault) -> T): T = withContext(dispatchers.core) {
        val v = requireVault()
        try {
            block(v)
        } catch (e: WardException.Locked) {
            _state.value = SessionState.Locked
            throw e
        } catch (e: WardException.Wiped) {
            _state.value = SessionState.Wiped
            throw e
        } catch (e: WardException.WipePending) {
            markWipePending()
            throw e
        }
    }

    /** The open vault handle, for objects built over it (WardSync). */
    fun requireVault(): WardVault =
        vault ?: throw WardException.Locked()

    private fun replace(v: WardVault) {
        vault?.close()
        vault = v
    }

    override fun close() {
        vault?.close()
        vault = null
    }

    private companion object {
        /**
         * The core's database file: its presence tells the app a vault exists without opening
         * it (the core has no "exists" call; see docs/apps.md).
         */
        const val VAULT_DB = "vault.db"
    }
}
