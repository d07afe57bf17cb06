package org.ward.app

import android.app.Application
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.delay
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import org.ward.app.platform.AndroidSecureKeyStore
import org.ward.kit.ClientRepository
import org.ward.kit.ConsentRepository
import org.ward.kit.CoreDispatchers
import org.ward.kit.NoteRepository
import org.ward.kit.PhotoRepository
import org.ward.kit.SyncRepository
import org.ward.kit.WardSession

/**
 * The process-wide graph: one session over the vault in the app's private no-backup folder,
 * the repositories, and the lock policy: lock when the app goes to the background, and an idle
 * check every [IDLE_CHECK_MS] while it is in the foreground.
 */
class WardApplication : Application() {
    lateinit var session: WardSession
        private set
    lateinit var keyStore: AndroidSecureKeyStore
        private set
    lateinit var clients: ClientRepository
        private set
    lateinit var notes: NoteRepository
        private set
    lateinit var photos: PhotoRepository
        private set
    lateinit var consents: ConsentRepository
        private set
    lateinit var sync: SyncRepository
        private set

    private val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Main)

    override fun onCreate() {
        super.onCreate()
        keyStore = AndroidSecureKeyStore(this)
        // noBackupFilesDir: excluded from backups by the platform as well as by the rules.
        val vaultDir = File(noBackupFilesDir, "vault")
        session = WardSession(vaultDir, keyStore, CoreDispatchers.create())
        clients = ClientRepository(session)
        notes = NoteRepository(session)
        photos = PhotoRepository(session)
        consents = ConsentRepository(session)
        sync = SyncRepository(session)

        ProcessLifecycleOwner.get().lifecycle.addObserver(object : DefaultLifecycleObserver {
            private var idleJob: kotlinx.coroutines.Job? = null

            override fun onStart(owner: LifecycleOwner) {
                idleJob = appScope.launch {
                    session.lockIfIdle()
                    while (isActive) {
                        delay(IDLE_CHECK_MS)
                        session.lockIfIdle()
                    }
                }
            }

            override fun onStop(owner: LifecycleOwner) {
                idleJob?.cancel()
                // Backgrounded: lock at once (the recents thumbnail is blank thanks to FLAG_SECURE).
                session.lock()
            }
        })
    }

    private companion object {
        const val IDLE_CHECK_MS = 15_000L
    }
}
