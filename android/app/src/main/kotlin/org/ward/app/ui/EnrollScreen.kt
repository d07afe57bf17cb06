package org.ward.app.ui

import android.os.Build
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.fragment.app.FragmentActivity
import java.util.UUID
import kotlinx.coroutines.launch
import org.ward.app.WardApplication
import org.ward.app.platform.CredentialManagerPasskeys
import org.ward.kit.userMessage

/**
 * First start (or after a wipe): enroll this phone with an admin's invite. Creates the vault
 * (its key wrapped by the Keystore, behind a biometric prompt), registers a passkey through
 * Credential Manager and a device key, then waits for an admin's approval.
 */
@Composable
fun EnrollScreen(app: WardApplication, activity: FragmentActivity) {
    var server by remember { mutableStateOf("https://") }
    var tenant by remember { mutableStateOf("") }
    var invite by remember { mutableStateOf("") }
    var name by remember { mutableStateOf("") }
    var status by remember { mutableStateOf<String?>(null) }
    var busy by remember { mutableStateOf(false) }
    val scope = rememberCoroutineScope()
    Column(Modifier.fillMaxSize().padding(24.dp)) {
        Text("Enroll this phone", style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(server, { server = it }, label = { Text("Server") }, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(tenant, { tenant = it }, label = { Text("Clinic id") }, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(invite, { invite = it }, label = { Text("Invite code") }, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(name, { name = it }, label = { Text("Your name") }, modifier = Modifier.fillMaxWidth())
        Button(
            enabled = !busy && tenant.isNotBlank() && invite.isNotBlank() && name.isNotBlank(),
            onClick = {
                busy = true
                scope.launch {
                    status = try {
                        app.session.create(tenant.trim(), UUID.randomUUID().toString(), "")
                        val device = "${Build.MANUFACTURER} ${Build.MODEL}"
                        val result = app.sync.enroll(server.trim(), invite.trim(), name.trim(), device, CredentialManagerPasskeys(activity))
                        "Device status: $result"
                    } catch (e: Exception) {
                        userMessage(e)
                    }
                    busy = false
                }
            },
            modifier = Modifier.padding(top = 16.dp),
        ) { Text("Enroll with a passkey") }
        status?.let { Text(it) }
    }
}
