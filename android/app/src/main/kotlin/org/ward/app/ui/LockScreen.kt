package org.ward.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.LockViewModel

/**
 * Lock screen. Unlocking asks the core to unlock; the core asks the Keystore to unwrap the
 * vault key, which shows the BiometricPrompt (see platform/AndroidSecureKeyStore).
 */
@Composable
fun LockScreen(app: WardApplication) {
    val vm = kitViewModel("lock") { scope -> LockViewModel(app.session, scope) }
    val state by vm.state.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.unlock() }
    Column(
        modifier = Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.Center,
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text("Ward is locked", style = MaterialTheme.typography.headlineSmall)
        if (state.unlocking) {
            CircularProgressIndicator(modifier = Modifier.padding(24.dp))
        } else {
            Button(onClick = { vm.unlock() }, modifier = Modifier.padding(24.dp)) { Text("Unlock with biometrics") }
        }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
}
