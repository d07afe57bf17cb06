package org.ward.kit

import java.util.concurrent.Executors
import java.util.concurrent.ThreadFactory
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.asCoroutineDispatcher

/**
 * Where blocking core calls run. Every call into `ward-core` blocks (SQLite, file I/O,
 * AES-GCM over whole photos, network for sync), so the repositories switch to [core] or [sync]
 * and never run a core call on the caller's (UI) thread.
 *
 * [core] is a small pool of named threads (`ward-core-N`), so a test can prove where a call
 * ran; [sync] is separate so a long sync never queues the UI's reads behind it.
 */
class CoreDispatchers(
    val core: CoroutineDispatcher,
    val sync: CoroutineDispatcher,
) : AutoCloseable {
    private val owned = mutableListOf<AutoCloseable>()

    override fun close() {
        owned.forEach { it.close() }
    }

    companion object {
        /** Thread-name prefix of [core]'s threads. */
        const val CORE_THREAD_PREFIX = "ward-core-"

        /** Thread-name prefix of [sync]'s thread. */
        const val SYNC_THREAD_PREFIX = "ward-sync-"

        /** The production dispatchers: two core threads, one sync thread. */
        fun create(coreThreads: Int = 2): CoreDispatchers {
            val core = Executors.newFixedThreadPool(coreThreads, named(CORE_THREAD_PREFIX)).asCoroutineDispatcher()
            val sync = Executors.newSingleThreadExecutor(named(SYNC_THREAD_PREFIX)).asCoroutineDispatcher()
            return CoreDispatchers(core, sync).also { it.owned += listOf(core, sync) }
        }

        private fun named(prefix: String): ThreadFactory {
            val n = AtomicInteger()
            return ThreadFactory { r -> Thread(r, prefix + n.incrementAndGet()).apply { isDaemon = true } }
        }
    }
}
