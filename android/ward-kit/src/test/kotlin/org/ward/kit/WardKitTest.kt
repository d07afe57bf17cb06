package org.ward.kit

import java.io.File
import java.nio.file.Files
import java.util.UUID
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.After
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.ward.core.ConsentScope
import org.ward.core.LeaseState
import org.ward.core.NoteBody
import org.ward.core.NoteStatus
import org.ward.core.PhotoInput
import org.ward.core.SyncStatus
import org.ward.core.WardException

/**
 * ward-kit — the Kotlin layer the Android app's screens sit on — against the real core on the
 * desktop JVM: session state machine, dispatchers, repositories and each view model's StateFlow.
 */
class WardKitTest {
    private val tmp: File = Files.createTempDirectory("ward-kit-test").toFile()
    private val dispatchers = CoreDispatchers.create()
    private val scope = CoroutineScope(SupervisorJob() + dispatchers.core)
    private val keyStore = JvmKeyStore()
    private var now = 1_700_000_000_000L
    private val session = WardSession(File(tmp, "vault"), keyStore, dispatchers) { now }

    @After
    fun cleanUp() {
        scope.cancel()
        session.close()
        dispatchers.close()
        tmp.deleteRecursively()
    }

    private fun created(): WardSession = session.also {
        runBlocking { it.create(UUID.randomUUID().toString(), UUID.randomUUID().toString(), "nurse@example.org") }
    }

    /** Waits (up to 10 s) until [flow]'s value satisfies [ok]. */
    private fun <T> await(flow: StateFlow<T>, ok: (T) -> Boolean): T =
        runBlocking { withTimeout(10_000) { flow.first(ok) } }

    @Test
    fun sessionMovesThroughItsStates() = runBlocking<Unit> {
        assertEquals(SessionState.NoVault, session.state.value)
        created()
        assertEquals(SessionState.Unlocked, session.state.value)
        session.lock()
        assertEquals(SessionState.Locked, session.state.value)
        session.unlock()
        assertEquals(SessionState.Unlocked, session.state.value)

        // A new process finds the vault on disk and starts at the lock screen.
        WardSession(File(tmp, "vault"), keyStore, dispatchers).use { again ->
            assertEquals(SessionState.Locked, again.state.value)
            again.unlock()
            assertEquals(SessionState.Unlocked, again.state.value)
        }

        session.wipe()
        assertEquals(SessionState.Wiped, session.state.value)
        assertTrue(keyStore.aliases().isEmpty())
    }

    @Test
    fun coreCallsRunOnTheCoreDispatcherNotTheCaller() = runBlocking<Unit> {
        created()
        val caller = Thread.currentThread().name
        val ran = session.call { Thread.currentThread().name }
        assertTrue(ran, ran.startsWith(CoreDispatchers.CORE_THREAD_PREFIX))
        assertFalse(caller.startsWith(CoreDispatchers.CORE_THREAD_PREFIX))
    }

    @Test
    fun aLockedErrorFromAnyCallShowsTheLockScreen() = runBlocking<Unit> {
        created()
        session.requireVault().lock() // locked behind the session's back (the core's idle timer)
        try {
            ClientRepository(session).list()
            fail("expected Locked")
        } catch (e: WardException.Locked) {
            assertEquals("Ward is locked. Unlock to continue.", userMessage(e))
        }
        assertEquals(SessionState.Locked, session.state.value)
    }

    @Test
    fun idleLockAfterThePolicyTimeoutWithoutInteraction() = runBlocking<Unit> {
        created()
        val idle = session.call { it.policy() }.idleLockSeconds.toLong()
        assertTrue("the default policy has an idle lock", idle > 0)
        now += idle * 1000 / 2
        session.touch()
        now += idle * 1000 / 2 + 1
        assertFalse("interaction restarts the idle window", session.lockIfIdle())
        now += idle * 1000
        assertTrue(session.lockIfIdle())
        assertEquals(SessionState.Locked, session.state.value)
    }

    @Test
    fun lockScreenReportsACancelledBiometricPromptAndStaysLocked() {
        val cancelling = object : JvmKeyStore() {
            var cancel = true
            override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray =
                if (cancel) throw org.ward.core.KeyStoreException.UserCancelled() else super.unwrapKey(alias, wrapped)
        }
        WardSession(File(tmp, "v2"), cancelling, dispatchers).use { s ->
            runBlocking { s.create(UUID.randomUUID().toString(), UUID.randomUUID().toString(), "u") }
            s.lock()
            val vm = LockViewModel(s, scope)
            vm.unlock()
            val failed = await(vm.state) { it.error != null }
            assertTrue(failed.error, failed.error!!.contains("cancelled"))
            assertEquals(SessionState.Locked, s.state.value)
            cancelling.cancel = false
            vm.unlock()
            await(vm.state) { !it.unlocking && it.error == null }
            assertEquals(SessionState.Unlocked, s.state.value)
        }
    }

    @Test
    fun clientListShowsEveryoneAndSearchesNamesAndNotes() {
        created()
        val clients = ClientRepository(session)
        val ada = runBlocking { clients.create("Ada Lovelace", "1815-12-10") }
        runBlocking { clients.create("Grace Hopper") }
        runBlocking { NoteRepository(session).createDraft(ada.clientId, NoteBody.Text("erythema on the forearm")) }
        val vm = ClientListViewModel(clients, scope, debounceMs = 10)
        val all = await(vm.state) { !it.loading && it.rows.size == 2 }
        assertEquals(listOf("Ada Lovelace", "Grace Hopper"), all.rows.map { it.name })

        vm.onQueryChange("grace")
        assertEquals(listOf("Grace Hopper"), await(vm.state) { !it.loading && it.rows.size == 1 && it.query == "grace" }.rows.map { it.name })
        vm.onQueryChange("erythema")
        val hit = await(vm.state) { !it.loading && it.rows.singleOrNull()?.clientId == ada.clientId }
        assertEquals("Ada Lovelace", hit.rows.single().name)

        vm.onQueryChange("")
        vm.addClient("  Mary Seacole ", "", null)
        assertEquals(3, await(vm.state) { it.rows.size == 3 }.rows.size)
    }

    @Test
    fun noteEditorSoapDraftSignAndAmend() {
        created()
        val client = runBlocking { ClientRepository(session).create("Ada Lovelace") }
        val notes = NoteRepository(session)
        val vm = NoteEditorViewModel(client.clientId, null, notes, scope)
        vm.save()
        assertEquals("Write something first.", await(vm.state) { it.error != null }.error)

        vm.setMode(NoteMode.SOAP)
        vm.setSubjective("itchy rash")
        vm.setObjective("2 cm erythema")
        vm.setAssessment("contact dermatitis")
        vm.setPlan("review in 2 weeks")
        vm.save()
        val draft = await(vm.state) { it.note != null && !it.busy }.note!!
        assertEquals(NoteStatus.DRAFT, draft.status)
        assertEquals(NoteBody.Soap("itchy rash", "2 cm erythema", "contact dermatitis", "review in 2 weeks"), draft.body)

        vm.setPlan("review in 1 week") // an unsaved edit: sign saves it first
        vm.sign()
        val signed = await(vm.state) { it.signed && !it.busy }
        assertEquals("review in 1 week", (signed.note!!.body as NoteBody.Soap).plan)
        assertTrue(runBlocking { notes.history(draft.noteId) }.size >= 2)

        vm.setPlan("changed after signing") // ignored: a signed note is locked
        assertEquals("review in 1 week", vm.state.value.plan)
        vm.setAddendum("Phoned: improving.")
        vm.amend()
        val amended = await(vm.state) { it.note?.addenda?.isNotEmpty() == true && !it.busy }
        assertEquals("Phoned: improving.", amended.note!!.addenda.single().text)

        // Reopening the note in the editor shows the saved SOAP sections.
        val reopened = NoteEditorViewModel(client.clientId, draft.noteId, notes, scope)
        val loaded = await(reopened.state) { it.note != null && !it.busy }
        assertEquals(NoteMode.SOAP, loaded.mode)
        assertTrue(loaded.signed)
    }

    @Test
    fun captureFromMemoryNeedsConsentThenLandsInTheTimeline() {
        created()
        val client = runBlocking { ClientRepository(session).create("Ada Lovelace") }
        val photos = PhotoRepository(session)
        val consents = ConsentRepository(session)
        val capture = CaptureViewModel(client.clientId, photos, consents, scope)

        val first = TestImages.jpeg(320, 240, seed = 1)
        capture.onImageCaptured(first.copyOf())
        val refused = await(capture.state) { it is CaptureUiState.Failed } as CaptureUiState.Failed
        assertTrue(refused.message, refused.message.startsWith("Not allowed"))

        val timeline = ClientTimelineViewModel(client.clientId, ClientRepository(session), NoteRepository(session), photos, consents, scope)
        await(timeline.state) { !it.loading }
        timeline.recordConsent(listOf(ConsentScope.CLINICAL), "verbal")
        await(timeline.state) { it.hasClinicalConsent }

        capture.reset()
        capture.caption = "left forearm"
        capture.series = "forearm"
        capture.seriesLabel = "before"
        val handed = first.copyOf()
        capture.onImageCaptured(handed)
        val saved = await(capture.state) { it is CaptureUiState.Saved } as CaptureUiState.Saved
        assertEquals("left forearm", saved.photo.caption)
        assertNotNull(saved.photo.consentId)
        assertTrue("the camera buffer is zeroed once the core has it", handed.all { it == 0.toByte() })
        assertArrayEquals(first, runBlocking { photos.read(saved.photo.photoId) })

        runBlocking { NoteRepository(session).createDraft(client.clientId, NoteBody.Text("photo taken")) }
        timeline.refresh()
        val items = await(timeline.state) { s -> s.items.size == 3 }.items
        assertEquals(setOf("Note", "Photo", "Consent"), items.map { it::class.simpleName }.toSet())
        assertEquals(items.sortedByDescending { it.atMs }.map { it.atMs }, items.map { it.atMs })
    }

    @Test
    fun beforeAfterComparisonLoadsTheSeriesEnds() {
        created()
        val client = runBlocking { ClientRepository(session).create("Ada Lovelace") }
        val consent = runBlocking { ConsentRepository(session).record(client.clientId, listOf(ConsentScope.CLINICAL), null) }
        val photos = PhotoRepository(session)
        val images = (1..3).map { TestImages.jpeg(64, 48, seed = it.toLong()) }
        val views = images.mapIndexed { i, jpeg ->
            runBlocking { photos.capture(client.clientId, jpeg, PhotoInput("p$i", null, consent.consentId, "face", "week $i")) }
        }
        val vm = CompareViewModel(client.clientId, photos, scope)
        vm.load()
        val s = await(vm.state) { !it.loading }
        assertNull(s.error)
        assertEquals(views.first().photoId, s.before!!.photoId)
        assertEquals(views.last().photoId, s.after!!.photoId)
        assertArrayEquals(images.first(), s.beforeJpeg)
        assertArrayEquals(images.last(), s.afterJpeg)
        val kept = s.afterJpeg!!
        vm.clear()
        assertTrue("decrypted bytes are zeroed when the screen closes", kept.all { it == 0.toByte() })
    }

    @Test
    fun syncStatusOfANewDeviceShowsUnsyncedWorkAndNoEnrollment() {
        created()
        val client = runBlocking { ClientRepository(session).create("Ada Lovelace") }
        runBlocking { NoteRepository(session).createDraft(client.clientId, NoteBody.Text("offline note")) }
        val sync = SyncRepository(session)
        try {
            val vm = SyncStatusViewModel(sync, scope) { now }
            vm.refresh()
            val s = await(vm.state) { it.unsyncedTotal > 0 }
            assertFalse(s.enrolled)
            assertEquals(1L, s.unsyncedNotes)
            assertEquals(1L, s.unsyncedClients)
            assertEquals("never", s.lastContact)

            // Syncing a device that never enrolled fails with a message, not a crash.
            vm.syncNow()
            val failed = await(vm.state) { it.error != null && !it.syncing }
            assertTrue(failed.error, failed.error!!.startsWith("Not allowed"))
        } finally {
            sync.close()
        }
    }

    @Test
    fun syncFlowOfAnUnenrolledDeviceFails() = runBlocking<Unit> {
        created()
        val sync = SyncRepository(session)
        try {
            sync.syncNow().toList()
            fail("expected NotAllowed")
        } catch (e: WardException.NotAllowed) {
            assertTrue(e.detail.contains("not enrolled"))
        } finally {
            sync.close()
        }
    }

    @Test
    fun syncStatusWordingForAlarmsAndTheLease() {
        val hour = 3_600_000L
        val status = SyncStatus(
            enrolled = true, role = "clinician", deviceStatus = "active", lastContactMs = now - 50 * hour,
            unsyncedClients = 0u, unsyncedNotes = 3u, unsyncedPhotos = 2u, unsyncedOther = 0u,
            oldestUnsyncedMs = now - 49 * hour, refused = 0u,
            lease = LeaseState.Warning(now + 30 * hour), unsyncedAlarm = "3 notes not synced for 2 days",
            wipePending = false,
        )
        val ui = syncUiState(status, now)
        assertEquals("2 days ago", ui.lastContact)
        assertEquals("2 days", ui.oldestUnsynced)
        assertEquals(5L, ui.unsyncedTotal)
        assertEquals("3 notes not synced for 2 days", ui.alarm)
        assertEquals("Connect within 30 hours or this phone's Ward data will be wiped.", ui.leaseWarning)
        assertNull(syncUiState(status.copy(lease = LeaseState.Valid(now + hour)), now).leaseWarning)
        assertEquals("just now", ageText(10_000))
        assertEquals("1 minute", ageText(60_000))
    }

    @Test
    fun settingsShowDeviceInfoAndTheAuditChain() {
        created()
        runBlocking { ClientRepository(session).create("Ada Lovelace") }
        val vm = SettingsViewModel(session, PlatformSecurity("JVM test key store", false, false), scope)
        vm.refresh()
        val s = await(vm.state) { it.deviceId.isNotEmpty() }
        assertEquals("nurse@example.org", s.userId)
        assertEquals(true, s.auditChainOk)
        assertTrue((s.auditEvents ?: 0) > 0)
        vm.wipe()
        await(session.state) { it == SessionState.Wiped }
    }

    @Test
    fun everyScreenShowsTheLeaseWarningAndAPendingWipe() = runBlocking<Unit> {
        created()
        val hour = 3_600_000L
        val clients = ClientRepository(session)
        val vms = listOf(
            ClientListViewModel(clients, scope).notice,
            ClientTimelineViewModel("c", clients, NoteRepository(session), PhotoRepository(session), ConsentRepository(session), scope).notice,
            NoteEditorViewModel("c", null, NoteRepository(session), scope).notice,
            CaptureViewModel("c", PhotoRepository(session), ConsentRepository(session), scope).notice,
            CompareViewModel("c", PhotoRepository(session), scope).notice,
            SettingsViewModel(session, PlatformSecurity("JVM test key store", false, false), scope).notice,
            LockViewModel(session, scope).notice,
            SyncStatusViewModel(SyncRepository(session) { now }, scope) { now }.notice,
        )
        val status = SyncStatus(
            enrolled = true, role = "clinician", deviceStatus = "active", lastContactMs = now - 300 * hour,
            unsyncedClients = 0u, unsyncedNotes = 0u, unsyncedPhotos = 0u, unsyncedOther = 0u,
            oldestUnsyncedMs = null, refused = 0u, lease = LeaseState.Warning(now + 36 * hour),
            unsyncedAlarm = null, wipePending = false,
        )
        session.publishNotice(deviceNotice(status, now))
        for (n in vms) assertEquals("Connect within 36 hours or this phone's Ward data will be wiped.", n.value)
        assertEquals(WIPE_PENDING_NOTICE, deviceNotice(status.copy(wipePending = true), now))

        // Any data call that meets a pending wipe moves the app to the no-data screen.
        try {
            session.call { throw WardException.WipePending() }
            fail("no error")
        } catch (e: WardException.WipePending) {
            assertEquals(WIPE_PENDING_NOTICE, userMessage(e))
        }
        assertEquals(SessionState.WipePending, session.state.value)
        for (n in vms) assertEquals(WIPE_PENDING_NOTICE, n.value)
    }

    @Test
    fun aRateLimitIsItsOwnMessageAndHoldsBackTheNextSync() = runBlocking<Unit> {
        created()
        val sync = SyncRepository(session) { now }
        val e = WardException.RateLimited(120u, "slow down")
        assertEquals("The server asked Ward to slow down. Try again in 2 minutes; your work is kept on this phone.", userMessage(e))
        sync.rateLimited(e)
        assertEquals(120_000L, sync.nextSyncDelayMs())
        assertEquals("The server asked Ward to slow down: next sync in 2 minutes.", session.notice.value)
        try {
            sync.syncNow().toList()
            fail("a sync ran before the retry time")
        } catch (r: WardException.RateLimited) {
            assertEquals(120uL, r.retryAfterSeconds)
        }
        now += 121_000
        assertEquals(0L, sync.nextSyncDelayMs())
    }

    @Test
    fun aSyncThatPulledUnreadableRecordsSaysSo() {
        val summary = org.ward.core.SyncSummary(pushed = 1u, refused = 0u, photosUploaded = 0u, pulled = 4u, unreadable = 1u, requests = 3u)
        assertEquals("Sent 1, received 4, photos 0; 1 record(s) need a newer Ward (kept on this phone)", syncResultText(summary))
        assertEquals("Sent 1, received 4, photos 0", syncResultText(summary.copy(unreadable = 0u)))
        assertEquals(
            "Sent 1, received 4, photos 0; 2 client(s) removed from this phone (no longer on your care team)",
            syncResultText(summary.copy(unreadable = 0u, clientsDropped = 2u)),
        )
    }
}
