package org.ward.app.ui

import android.os.Build
import androidx.biometric.BiometricManager
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
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
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.PlatformSecurity
import org.ward.kit.SettingsViewModel

/** Settings and device info: ids, policy, key store, audit-chain check, lock and wipe. */
@Composable
fun SettingsScreen(app: WardApplication) {
    val context = LocalContext.current
    val vm = kitViewModel("settings") { scope ->
        val biometrics = BiometricManager.from(context).canAuthenticate(BiometricManager.Authenticators.BIOMETRIC_STRONG) ==
            BiometricManager.BIOMETRIC_SUCCESS
        val store = if (app.keyStore.strongBox) "Android Keystore (StrongBox)" else "Android Keystore (TEE)"
        SettingsViewModel(app.session, PlatformSecurity(store, true, biometrics), scope)
    }
    val s by vm.state.collectAsStateWithLifecycle()
    var confirmWipe by remember { mutableStateOf(false) }
    LaunchedEffect(Unit) { vm.refresh() }
    Column(Modifier.fillMaxSize().padding(16.dp)) {
        Text("Device", style = MaterialTheme.typography.titleMedium)
        Text("Device id: ${s.deviceId}")
        Text("Clinic: ${s.tenantId}")
        Text("Phone: ${Build.MANUFACTURER} ${Build.MODEL}, Android ${Build.VERSION.RELEASE}")
        s.platform?.let { Text("Key store: ${it.keyStore}; strong biometrics: ${if (it.biometricsEnrolled) "yes" else "no"}") }
        Text("Locks after ${s.idleLockSeconds} s idle; offline lease ${s.offlineLeaseHours} h")
        Text(
            when (s.auditChainOk) {
                true -> "Audit log: ${s.auditEvents} events, chain verified"
                false -> "Audit log: chain broken — report this device"
                null -> "Audit log: checking…"
            },
        )
        Button(onClick = vm::lockNow, modifier = Modifier.padding(top = 16.dp)) { Text("Lock now") }
        Button(onClick = { confirmWipe = true }) { Text("Wipe Ward data on this phone") }
        s.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
    if (confirmWipe) {
        AlertDialog(
            onDismissRequest = { confirmWipe = false },
            properties = SecureDialog,
            title = { Text("Wipe this phone?") },
            text = { Text("Unsynced work on this phone is lost. The key is destroyed first, then the files.") },
            confirmButton = { TextButton(onClick = { confirmWipe = false; vm.wipe() }) { Text("Wipe") } },
            dismissButton = { TextButton(onClick = { confirmWipe = false }) { Text("Cancel") } },
        )
    }
}
