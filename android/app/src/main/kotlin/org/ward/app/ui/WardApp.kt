package org.ward.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.window.DialogProperties
import androidx.compose.ui.window.SecureFlagPolicy
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.launch
import org.ward.app.WardApplication
import org.ward.kit.SessionState

/** Dialog windows are separate windows: they must be FLAG_SECURE too. */
val SecureDialog = DialogProperties(securePolicy = SecureFlagPolicy.SecureOn)

/** Hosts a ward-kit view model in an androidx ViewModel so it survives rotation. */
class KitHolder<T>(factory: (CoroutineScope) -> T) : ViewModel() {
    val kit: T = factory(viewModelScope)
}

@Composable
fun <T> kitViewModel(key: String, factory: (CoroutineScope) -> T): T =
    viewModel<KitHolder<T>>(key = key, initializer = { KitHolder(factory) }).kit

/** The root: the session state decides between enrollment, the lock screen and the app. */
@Composable
fun WardApp(app: WardApplication, activity: FragmentActivity) {
    MaterialTheme {
        val state by app.session.state.collectAsStateWithLifecycle()
        val notice by app.session.notice.collectAsStateWithLifecycle()
        Column {
            // The device-wide notice (pending wipe, lease warning, rate limit) on every screen.
            notice?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            when (state) {
                SessionState.NoVault, SessionState.Wiped -> EnrollScreen(app, activity)
                SessionState.Locked -> LockScreen(app)
                SessionState.Unlocked -> MainNavigation(app, activity)
                SessionState.WipePending -> WipePendingScreen(app)
            }
        }
    }
}

/** A revoked phone with its wipe pending shows no data: only a way to finish the wipe. */
@Composable
private fun WipePendingScreen(app: WardApplication) {
    val scope = rememberCoroutineScope()
    Column {
        Text("This phone was revoked by your clinic. Connect to the internet to finish.")
        Button(onClick = { scope.launch { runCatching { app.sync.enforceLease() } } }) {
            Text("Try again")
        }
    }
}

@Composable
private fun MainNavigation(app: WardApplication, activity: FragmentActivity) {
    // Offline too long: the core wipes the vault and the session shows enrollment again.
    LaunchedEffect(Unit) { runCatching { app.sync.enforceLease() } }
    val nav = rememberNavController()
    NavHost(navController = nav, startDestination = "clients") {
        composable("clients") {
            ClientListScreen(
                app,
                onOpen = { id -> nav.navigate("client/$id") },
                onSync = { nav.navigate("sync") },
                onSettings = { nav.navigate("settings") },
            )
        }
        composable("client/{id}") { entry ->
            val id = entry.arguments?.getString("id") ?: return@composable
            TimelineScreen(
                app,
                clientId = id,
                onNote = { noteId -> nav.navigate("note/$id/${noteId ?: "new"}") },
                onCapture = { nav.navigate("capture/$id") },
                onCompare = { nav.navigate("compare/$id") },
            )
        }
        composable("note/{client}/{note}") { entry ->
            val client = entry.arguments?.getString("client") ?: return@composable
            val note = entry.arguments?.getString("note")?.takeIf { it != "new" }
            NoteEditorScreen(app, client, note, onDone = { nav.popBackStack() })
        }
        composable("capture/{client}") { entry ->
            val client = entry.arguments?.getString("client") ?: return@composable
            CaptureScreen(app, client, onDone = { nav.popBackStack() })
        }
        composable("compare/{client}") { entry ->
            val client = entry.arguments?.getString("client") ?: return@composable
            CompareScreen(app, client)
        }
        composable("sync") { SyncScreen(app, activity) }
        composable("settings") { SettingsScreen(app) }
    }
}
