package org.ward.app.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.ClientListViewModel

/** Client list with search over names and note texts (the core's encrypted index). */
@Composable
fun ClientListScreen(app: WardApplication, onOpen: (String) -> Unit, onSync: () -> Unit, onSettings: () -> Unit) {
    val vm = kitViewModel("clients") { scope -> ClientListViewModel(app.clients, scope) }
    val state by vm.state.collectAsStateWithLifecycle()
    var adding by remember { mutableStateOf(false) }
    Column(Modifier.fillMaxSize().padding(16.dp)) {
        Row {
            TextButton(onClick = onSync) { Text("Sync") }
            TextButton(onClick = onSettings) { Text("Settings") }
            TextButton(onClick = { adding = true }) { Text("Add client") }
        }
        OutlinedTextField(
            value = state.query,
            onValueChange = vm::onQueryChange,
            label = { Text("Search clients and notes") },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        LazyColumn {
            items(state.rows, key = { it.clientId }) { row ->
                Column(Modifier.fillMaxWidth().clickable { onOpen(row.clientId) }.padding(vertical = 12.dp)) {
                    Text(row.name, style = MaterialTheme.typography.titleMedium)
                    row.detail?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
                    row.emergencyUntilMs?.let {
                        Text(
                            "Emergency access until ${java.text.DateFormat.getTimeInstance(java.text.DateFormat.SHORT).format(java.util.Date(it))}",
                            style = MaterialTheme.typography.bodySmall,
                            color = MaterialTheme.colorScheme.error,
                        )
                    }
                }
                HorizontalDivider()
            }
        }
    }
    if (adding) {
        var name by remember { mutableStateOf("") }
        var dob by remember { mutableStateOf("") }
        AlertDialog(
            onDismissRequest = { adding = false },
            properties = SecureDialog,
            title = { Text("New client") },
            text = {
                Column {
                    OutlinedTextField(value = name, onValueChange = { name = it }, label = { Text("Name") })
                    OutlinedTextField(value = dob, onValueChange = { dob = it }, label = { Text("Date of birth (YYYY-MM-DD)") })
                }
            },
            confirmButton = {
                TextButton(
                    enabled = name.isNotBlank(),
                    onClick = {
                        vm.addClient(name, dob, null) { onOpen(it.clientId) }
                        adding = false
                    },
                ) { Text("Add") }
            },
            dismissButton = { TextButton(onClick = { adding = false }) { Text("Cancel") } },
        )
    }
}
