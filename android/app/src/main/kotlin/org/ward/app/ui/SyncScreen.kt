package org.ward.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import kotlinx.coroutines.launch
import org.ward.app.WardApplication
import org.ward.app.platform.CredentialManagerPasskeys
import org.ward.kit.SyncStatusViewModel

/** Sync status: unsynced counts and their age, the core's alarms, the offline lease; sync now. */
@Composable
fun SyncScreen(app: WardApplication, activity: FragmentActivity) {
    val vm = kitViewModel("sync") { scope -> SyncStatusViewModel(app.sync, scope) }
    val s by vm.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) { vm.refresh() }
    Column(Modifier.fillMaxSize().padding(16.dp)) {
        Text("Device: ${s.deviceStatus}", style = MaterialTheme.typography.titleMedium)
        Text("Last contact with the server: ${s.lastContact}")
        Text("Not synced: ${s.unsyncedNotes} notes, ${s.unsyncedPhotos} photos, ${s.unsyncedClients} clients, ${s.unsyncedOther} other")
        s.oldestUnsynced?.let { Text("Oldest unsynced change: $it old") }
        s.alarm?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        s.leaseWarning?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        if (s.refused > 0) Text("${s.refused} change(s) refused by the server are kept on this phone.")
        s.progress?.let { p ->
            Text("${p.phase}: ${p.done} / ${p.total}")
            if (p.total > 0) LinearProgressIndicator(progress = { p.done.toFloat() / p.total })
        }
        if (s.syncing) Button(onClick = vm::cancel) { Text("Cancel") } else Button(onClick = vm::syncNow) { Text("Sync now") }
        Button(onClick = { scope.launch { runCatching { app.sync.login(CredentialManagerPasskeys(activity)) }; vm.refresh() } }) {
            Text("Sign in again with passkey")
        }
        s.lastResult?.let { Text(it) }
        s.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
}
