package org.ward.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.NoteEditorViewModel
import org.ward.kit.NoteMode

/** Note editor: free text or SOAP; save (new version), sign (locks), amend (dated addendum). */
@Composable
fun NoteEditorScreen(app: WardApplication, clientId: String, noteId: String?, onDone: () -> Unit) {
    val vm = kitViewModel("note-$clientId-${noteId ?: "new"}") { scope -> NoteEditorViewModel(clientId, noteId, app.notes, scope) }
    val s by vm.state.collectAsStateWithLifecycle()
    Column(Modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState())) {
        Row {
            FilterChip(selected = s.mode == NoteMode.TEXT, onClick = { vm.setMode(NoteMode.TEXT) }, label = { Text("Free text") }, enabled = !s.signed)
            FilterChip(selected = s.mode == NoteMode.SOAP, onClick = { vm.setMode(NoteMode.SOAP) }, label = { Text("SOAP") }, enabled = !s.signed)
        }
        if (s.conflicts > 0) Text("${s.conflicts} conflicting version(s) from another device are kept.", color = MaterialTheme.colorScheme.error)
        when (s.mode) {
            NoteMode.TEXT -> OutlinedTextField(s.text, vm::setText, label = { Text("Note") }, readOnly = s.signed, modifier = Modifier.fillMaxWidth())
            NoteMode.SOAP -> {
                OutlinedTextField(s.subjective, vm::setSubjective, label = { Text("Subjective") }, readOnly = s.signed, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(s.objective, vm::setObjective, label = { Text("Objective") }, readOnly = s.signed, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(s.assessment, vm::setAssessment, label = { Text("Assessment") }, readOnly = s.signed, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(s.plan, vm::setPlan, label = { Text("Plan") }, readOnly = s.signed, modifier = Modifier.fillMaxWidth())
            }
        }
        if (s.signed) {
            s.note?.addenda?.forEach { a -> Text("Addendum by ${a.author}: ${a.text}", style = MaterialTheme.typography.bodySmall) }
            OutlinedTextField(s.addendum, vm::setAddendum, label = { Text("Addendum") }, modifier = Modifier.fillMaxWidth())
            Button(onClick = vm::amend, enabled = !s.busy && s.addendum.isNotBlank()) { Text("Add addendum") }
        } else {
            Row {
                Button(onClick = vm::save, enabled = !s.busy) { Text("Save draft") }
                Button(onClick = vm::sign, enabled = !s.busy, modifier = Modifier.padding(start = 8.dp)) { Text("Sign") }
            }
        }
        s.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Button(onClick = onDone, modifier = Modifier.padding(top = 16.dp)) { Text("Done") }
    }
}
