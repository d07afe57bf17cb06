package org.ward.app.ui

import android.graphics.BitmapFactory
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Slider
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableFloatStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.drawWithContent
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.drawscope.clipRect
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.CompareViewModel

/** Before/after: the "after" photo drawn over the "before" one up to a slider position. */
@Composable
fun CompareScreen(app: WardApplication, clientId: String) {
    val vm = kitViewModel("compare-$clientId") { scope -> CompareViewModel(clientId, app.photos, scope) }
    val state by vm.state.collectAsStateWithLifecycle()
    var split by remember { mutableFloatStateOf(0.5f) }
    LaunchedEffect(clientId) { vm.load() }
    DisposableEffect(Unit) { onDispose { vm.clear() } }

    Column(Modifier.fillMaxSize().padding(16.dp)) {
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        val before = state.beforeJpeg?.let { BitmapFactory.decodeByteArray(it, 0, it.size)?.asImageBitmap() }
        val after = state.afterJpeg?.let { BitmapFactory.decodeByteArray(it, 0, it.size)?.asImageBitmap() }
        if (before != null && after != null) {
            Text("${state.before?.seriesLabel ?: "before"}  ←→  ${state.after?.seriesLabel ?: "after"}")
            Box(Modifier.weight(1f).fillMaxWidth()) {
                Image(before, contentDescription = "before", contentScale = ContentScale.Fit, modifier = Modifier.fillMaxSize())
                Image(
                    after,
                    contentDescription = "after",
                    contentScale = ContentScale.Fit,
                    modifier = Modifier.fillMaxSize().drawWithContent {
                        clipRect(left = size.width * split) { this@drawWithContent.drawContent() }
                    },
                )
            }
            Slider(value = split, onValueChange = { split = it })
        }
    }
}
