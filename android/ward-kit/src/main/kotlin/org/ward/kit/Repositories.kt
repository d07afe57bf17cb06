package org.ward.kit

import kotlinx.coroutines.flow.StateFlow
import org.ward.core.ClientInput
import org.ward.core.ClientView
import org.ward.core.ConsentScope
import org.ward.core.ConsentView
import org.ward.core.NoteBody
import org.ward.core.NoteSummary
import org.ward.core.NoteView
import org.ward.core.PhotoInput
import org.ward.core.PhotoView
import org.ward.core.SearchHit

/**
 * Suspend-function repositories over the vault's sub-objects. Each call runs on the core
 * dispatcher through [WardSession.call]; each sub-object handle is closed right after use so
 * no Rust object outlives the call that needed it.
 */
class ClientRepository(private val session: WardSession) {
    /** The device-wide notice ([WardSession.notice]). */
    val notice: StateFlow<String?> get() = session.notice

    /** All clients by name. */
    suspend fun list(): List<ClientView> = session.call { v -> v.clients().use { it.list() } }

    /** Client names and note texts matching [query] (empty query: nothing). */
    suspend fun search(query: String, limit: Int = 50): List<SearchHit> =
        if (query.isBlank()) emptyList()
        else session.call { v -> v.clients().use { it.search(query.trim(), limit.toUInt()) } }

    /** Opens one client (audited by the core). */
    suspend fun get(clientId: String): ClientView = session.call { v -> v.clients().use { it.get(clientId) } }

    /** Adds a client. */
    suspend fun create(displayName: String, dateOfBirth: String? = null, externalRef: String? = null): ClientView =
        session.call { v -> v.clients().use { it.create(ClientInput(displayName, dateOfBirth, externalRef)) } }
}

/** Notes: drafts, signing (locks the note), amendments (dated addenda), versions. */
class NoteRepository(private val session: WardSession) {
    /** The device-wide notice ([WardSession.notice]). */
    val notice: StateFlow<String?> get() = session.notice

    suspend fun list(clientId: String): List<NoteSummary> = session.call { v -> v.notes().use { it.list(clientId) } }

    suspend fun get(noteId: String): NoteView = session.call { v -> v.notes().use { it.get(noteId) } }

    suspend fun history(noteId: String): List<NoteView> = session.call { v -> v.notes().use { it.history(noteId) } }

    suspend fun createDraft(clientId: String, body: NoteBody): NoteView =
        session.call { v -> v.notes().use { it.create(clientId, body) } }

    /** Saves an edit of a draft, based on the version the user was editing. */
    suspend fun edit(noteId: String, baseVersionId: String, body: NoteBody): NoteView =
        session.call { v -> v.notes().use { it.edit(noteId, baseVersionId, body) } }

    suspend fun sign(noteId: String, versionId: String): NoteView =
        session.call { v -> v.notes().use { it.sign(noteId, versionId) } }

    suspend fun amend(noteId: String, text: String): NoteView =
        session.call { v -> v.notes().use { it.amend(noteId, text) } }
}

/**
 * Photos. [capture] takes the camera's in-memory bytes (CameraX `ImageProxy` plane / AVFoundation
 * `fileDataRepresentation()`): the bytes go straight to the core, which strips metadata and
 * stores them encrypted. Nothing here writes an image to a file or a media store.
 */
class PhotoRepository(private val session: WardSession) {
    /** The device-wide notice ([WardSession.notice]). */
    val notice: StateFlow<String?> get() = session.notice

    suspend fun capture(clientId: String, jpeg: ByteArray, input: PhotoInput, thumbnail: ByteArray? = null): PhotoView =
        session.call { v -> v.photos().use { it.capture(clientId, jpeg, input, thumbnail) } }

    suspend fun list(clientId: String): List<PhotoView> = session.call { v -> v.photos().use { it.list(clientId) } }

    /** The decrypted photo, in memory only (audited). */
    suspend fun read(photoId: String): ByteArray = session.call { v -> v.photos().use { it.read(photoId) } }

    suspend fun thumbnail(photoId: String): ByteArray = session.call { v -> v.photos().use { it.thumbnail(photoId) } }
}

/** Consents per client. */
class ConsentRepository(private val session: WardSession) {
    /** The device-wide notice ([WardSession.notice]). */
    val notice: StateFlow<String?> get() = session.notice

    suspend fun list(clientId: String): List<ConsentView> = session.call { v -> v.consents().use { it.list(clientId) } }

    suspend fun record(clientId: String, scopes: List<ConsentScope>, detail: String?): ConsentView =
        session.call { v -> v.consents().use { it.record(clientId, scopes, detail) } }

    suspend fun withdraw(consentId: String): ConsentView =
        session.call { v -> v.consents().use { it.withdraw(consentId) } }

    /** The newest consent covering clinical photos that is not withdrawn, if any. */
    suspend fun activeClinical(clientId: String): ConsentView? =
        list(clientId)
            .filter { it.withdrawnAtMs == null && ConsentScope.CLINICAL in it.scopes }
            .maxByOrNull { it.givenAtMs }
}

/** One entry of a client's timeline. */
sealed class TimelineItem {
    abstract val atMs: Long
    abstract val id: String

    data class Note(val note: NoteSummary) : TimelineItem() {
        override val atMs get() = note.updatedAtMs
        override val id get() = note.noteId
    }

    data class Photo(val photo: PhotoView) : TimelineItem() {
        override val atMs get() = photo.takenAtMs
        override val id get() = photo.photoId
    }

    data class Consent(val consent: ConsentView) : TimelineItem() {
        override val atMs get() = consent.givenAtMs
        override val id get() = consent.consentId
    }
}

/** Notes, photos and consents of one client, newest first. */
fun timelineOf(notes: List<NoteSummary>, photos: List<PhotoView>, consents: List<ConsentView>): List<TimelineItem> =
    (notes.map { TimelineItem.Note(it) } + photos.map { TimelineItem.Photo(it) } + consents.map { TimelineItem.Consent(it) })
        .sortedWith(compareByDescending<TimelineItem> { it.atMs }.thenBy { it.id })
