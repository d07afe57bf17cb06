package org.ward.app.ui

import android.graphics.BitmapFactory
import androidx.compose.foundation.Image
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.text.DateFormat
import java.util.Date
import org.ward.app.WardApplication
import org.ward.core.ConsentScope
import org.ward.core.NoteStatus
import org.ward.kit.ClientTimelineViewModel
import org.ward.kit.TimelineItem

/** A client's timeline: notes, photos (thumbnails decrypted into memory) and consents. */
@Composable
fun TimelineScreen(
    app: WardApplication,
    clientId: String,
    onNote: (String?) -> Unit,
    onCapture: () -> Unit,
    onCompare: () -> Unit,
) {
    val vm = kitViewModel("timeline-$clientId") { scope ->
        ClientTimelineViewModel(clientId, app.clients, app.notes, app.photos, app.consents, scope)
    }
    val state by vm.state.collectAsStateWithLifecycle()
    Column(Modifier.fillMaxSize().padding(16.dp)) {
        Text(state.client?.displayName ?: "", style = MaterialTheme.typography.headlineSmall)
        Row {
            TextButton(onClick = { onNote(null) }) { Text("New note") }
            TextButton(onClick = onCapture, enabled = state.hasClinicalConsent) { Text("Photo") }
            TextButton(onClick = onCompare) { Text("Compare") }
            if (!state.hasClinicalConsent) {
                TextButton(onClick = { vm.recordConsent(listOf(ConsentScope.CLINICAL), "recorded in app") }) { Text("Record consent") }
            }
        }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        LazyColumn {
            items(state.items, key = { it.id }) { item ->
                when (item) {
                    is TimelineItem.Note -> Column(Modifier.fillMaxWidth().clickable { onNote(item.note.noteId) }.padding(8.dp)) {
                        val signed = if (item.note.status == NoteStatus.SIGNED) "signed" else "draft"
                        Text("Note · $signed · ${time(item.atMs)}", style = MaterialTheme.typography.labelMedium)
                        Text(item.note.preview)
                        if (item.note.hasConflict) Text("Edited on two devices: both versions kept", color = MaterialTheme.colorScheme.error)
                    }
                    is TimelineItem.Photo -> Row(Modifier.padding(8.dp)) {
                        Thumbnail(app, item.photo.photoId)
                        Column(Modifier.padding(start = 8.dp)) {
                            Text("Photo · ${time(item.atMs)}", style = MaterialTheme.typography.labelMedium)
                            Text(listOfNotNull(item.photo.caption, item.photo.seriesLabel).joinToString(" · "))
                        }
                    }
                    is TimelineItem.Consent -> Column(Modifier.padding(8.dp)) {
                        Text("Consent · ${time(item.atMs)}", style = MaterialTheme.typography.labelMedium)
                        Text(item.consent.scopes.joinToString { it.name.lowercase() } + if (item.consent.withdrawnAtMs != null) " (withdrawn)" else "")
                        if (item.consent.withdrawnAtMs == null) {
                            TextButton(onClick = { vm.withdrawConsent(item.consent.consentId) }) { Text("Withdraw") }
                        }
                    }
                }
                HorizontalDivider()
            }
        }
    }
}

/** A photo's thumbnail, decrypted by the core into memory and decoded from the byte array. */
@Composable
private fun Thumbnail(app: WardApplication, photoId: String) {
    var bitmap by remember(photoId) { mutableStateOf<ImageBitmap?>(null) }
    LaunchedEffect(photoId) {
        val bytes = runCatching { app.photos.thumbnail(photoId) }.getOrNull() ?: return@LaunchedEffect
        bitmap = BitmapFactory.decodeByteArray(bytes, 0, bytes.size)?.asImageBitmap()
        bytes.fill(0)
    }
    bitmap?.let { Image(it, contentDescription = "photo", modifier = Modifier.size(72.dp)) }
}

private fun time(ms: Long): String = DateFormat.getDateTimeInstance(DateFormat.SHORT, DateFormat.SHORT).format(Date(ms))
