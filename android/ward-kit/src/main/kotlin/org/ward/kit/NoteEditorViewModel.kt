package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.ward.core.NoteBody
import org.ward.core.NoteStatus
import org.ward.core.NoteView

/** Free text or the four SOAP sections. */
enum class NoteMode { TEXT, SOAP }

/** The note editor's state. */
data class NoteEditorUiState(
    val mode: NoteMode = NoteMode.TEXT,
    val text: String = "",
    val subjective: String = "",
    val objective: String = "",
    val assessment: String = "",
    val plan: String = "",
    /** The saved note, once there is one. */
    val note: NoteView? = null,
    /** Edits not saved yet. */
    val dirty: Boolean = false,
    /** Addendum being written (signed notes only). */
    val addendum: String = "",
    val busy: Boolean = false,
    val error: String? = null,
) {
    /** A signed note is locked: only amendments are possible. */
    val signed: Boolean get() = note?.status == NoteStatus.SIGNED

    /** Versions from another device that conflict with this one (both are kept). */
    val conflicts: Int get() = note?.conflictingVersionIds?.size ?: 0

    fun body(): NoteBody = when (mode) {
        NoteMode.TEXT -> NoteBody.Text(text)
        NoteMode.SOAP -> NoteBody.Soap(subjective, objective, assessment, plan)
    }

    fun isEmpty(): Boolean = when (mode) {
        NoteMode.TEXT -> text.isBlank()
        NoteMode.SOAP -> listOf(subjective, objective, assessment, plan).all { it.isBlank() }
    }
}

/**
 * Note editor: write a draft (free text or SOAP), save it (every save is a new immutable
 * version), sign it (locks it), and amend a signed note with a dated addendum.
 */
class NoteEditorViewModel(
    private val clientId: String,
    private val noteId: String?,
    private val notes: NoteRepository,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(NoteEditorUiState(busy = noteId != null))
    val state: StateFlow<NoteEditorUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = notes.notice

    init {
        if (noteId != null) {
            scope.launch {
                _state.value = try {
                    fromNote(notes.get(noteId))
                } catch (e: Exception) {
                    _state.value.copy(busy = false, error = userMessage(e))
                }
            }
        }
    }

    fun setMode(mode: NoteMode) = edit { it.copy(mode = mode) }
    fun setText(v: String) = edit { it.copy(text = v) }
    fun setSubjective(v: String) = edit { it.copy(subjective = v) }
    fun setObjective(v: String) = edit { it.copy(objective = v) }
    fun setAssessment(v: String) = edit { it.copy(assessment = v) }
    fun setPlan(v: String) = edit { it.copy(plan = v) }
    fun setAddendum(v: String) {
        _state.value = _state.value.copy(addendum = v)
    }

    /** Saves the draft: creates the note, or a new version based on the one being edited. */
    fun save() = run { saveNow() }

    /** Saves pending edits, then signs the resulting version. */
    fun sign() = run {
        val saved = saveNow()
        if (saved != null) _state.value = fromNote(notes.sign(saved.noteId, saved.versionId))
    }

    /** Adds the addendum to a signed note. */
    fun amend() = run {
        val s = _state.value
        val note = s.note ?: return@run
        if (s.addendum.isBlank()) return@run
        _state.value = fromNote(notes.amend(note.noteId, s.addendum.trim()))
    }

    private suspend fun saveNow(): NoteView? {
        val s = _state.value
        if (s.signed) return s.note
        if (!s.dirty && s.note != null) return s.note
        if (s.isEmpty()) {
            _state.value = s.copy(error = "Write something first.")
            return null
        }
        val saved = s.note?.let { notes.edit(it.noteId, it.versionId, s.body()) } ?: notes.createDraft(clientId, s.body())
        _state.value = fromNote(saved)
        return saved
    }

    private fun edit(change: (NoteEditorUiState) -> NoteEditorUiState) {
        val s = _state.value
        if (s.signed) return
        _state.value = change(s).copy(dirty = true, error = null)
    }

    private fun run(block: suspend () -> Unit) {
        if (_state.value.busy) return
        _state.value = _state.value.copy(busy = true, error = null)
        scope.launch {
            try {
                block()
                _state.value = _state.value.copy(busy = false)
            } catch (e: Exception) {
                _state.value = _state.value.copy(busy = false, error = userMessage(e))
            }
        }
    }

    private fun fromNote(n: NoteView): NoteEditorUiState = when (val b = n.body) {
        is NoteBody.Text -> NoteEditorUiState(mode = NoteMode.TEXT, text = b.text, note = n)
        is NoteBody.Soap -> NoteEditorUiState(
            mode = NoteMode.SOAP,
            subjective = b.subjective,
            objective = b.objective,
            assessment = b.assessment,
            plan = b.plan,
            note = n,
        )
    }
}
