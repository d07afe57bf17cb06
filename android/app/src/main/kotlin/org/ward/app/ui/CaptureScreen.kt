package org.ward.app.ui

import android.Manifest
import android.content.pm.PackageManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageCapture
import androidx.camera.core.ImageCaptureException
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.platform.LocalLifecycleOwner
import androidx.compose.ui.unit.dp
import androidx.compose.ui.viewinterop.AndroidView
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.ward.app.WardApplication
import org.ward.kit.CaptureUiState
import org.ward.kit.CaptureViewModel

/**
 * Camera capture, in memory only: CameraX `ImageCapture.takePicture` with an
 * [ImageCapture.OnImageCapturedCallback] hands over the JPEG as an [ImageProxy] buffer; its
 * bytes go to the core (metadata stripped, encrypted) and the proxy is closed. There is no
 * `OutputFileOptions`, no MediaStore and no file anywhere on this path.
 */
@Composable
fun CaptureScreen(app: WardApplication, clientId: String, onDone: () -> Unit) {
    val vm = kitViewModel("capture-$clientId") { scope -> CaptureViewModel(clientId, app.photos, app.consents, scope) }
    val state by vm.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    val lifecycleOwner = LocalLifecycleOwner.current
    var granted by remember {
        mutableStateOf(ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED)
    }
    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted = it }
    LaunchedEffect(Unit) { if (!granted) permission.launch(Manifest.permission.CAMERA) }

    val imageCapture = remember {
        ImageCapture.Builder()
            .setCaptureMode(ImageCapture.CAPTURE_MODE_MAXIMIZE_QUALITY)
            .build()
    }
    var caption by remember { mutableStateOf("") }
    var series by remember { mutableStateOf("") }
    var label by remember { mutableStateOf("") }

    Column(Modifier.fillMaxSize()) {
        Box(Modifier.weight(1f).fillMaxWidth()) {
            if (granted) {
                AndroidView(
                    factory = { ctx -> PreviewView(ctx) },
                    modifier = Modifier.fillMaxSize(),
                    update = { view ->
                        val providerFuture = ProcessCameraProvider.getInstance(view.context)
                        providerFuture.addListener({
                            val provider = providerFuture.get()
                            val preview = Preview.Builder().build().also { it.setSurfaceProvider(view.surfaceProvider) }
                            provider.unbindAll()
                            provider.bindToLifecycle(lifecycleOwner, CameraSelector.DEFAULT_BACK_CAMERA, preview, imageCapture)
                        }, ContextCompat.getMainExecutor(view.context))
                    },
                )
            } else {
                Text("Ward needs the camera to take clinical photos.", modifier = Modifier.align(Alignment.Center))
            }
        }
        Column(Modifier.padding(16.dp)) {
            OutlinedTextField(caption, { caption = it }, label = { Text("Caption") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(series, { series = it }, label = { Text("Series (for before/after)") }, modifier = Modifier.fillMaxWidth())
            OutlinedTextField(label, { label = it }, label = { Text("Label (e.g. before)") }, modifier = Modifier.fillMaxWidth())
            when (val s = state) {
                CaptureUiState.Ready -> Button(
                    enabled = granted,
                    onClick = {
                        vm.caption = caption
                        vm.series = series.ifBlank { null }
                        vm.seriesLabel = label.ifBlank { null }
                        imageCapture.takePicture(
                            ContextCompat.getMainExecutor(context),
                            object : ImageCapture.OnImageCapturedCallback() {
                                override fun onCaptureSuccess(image: ImageProxy) {
                                    val jpeg = image.use { proxy ->
                                        val buffer = proxy.planes[0].buffer
                                        ByteArray(buffer.remaining()).also { buffer.get(it) }
                                    }
                                    vm.onImageCaptured(jpeg)
                                }

                                override fun onError(exception: ImageCaptureException) {
                                    vm.onCaptureError("The camera failed (${exception.imageCaptureError}).")
                                }
                            },
                        )
                    },
                ) { Text("Take photo") }
                CaptureUiState.Saving -> Text("Encrypting…")
                is CaptureUiState.Saved -> Column {
                    Text("Saved encrypted. Removed: ${s.photo.removedMetadata.joinToString().ifEmpty { "nothing" }}")
                    Button(onClick = vm::reset) { Text("Another") }
                    Button(onClick = onDone) { Text("Done") }
                }
                is CaptureUiState.Failed -> Column {
                    Text(s.message, color = MaterialTheme.colorScheme.error)
                    Button(onClick = vm::reset) { Text("Try again") }
                }
            }
        }
    }
    DisposableEffect(Unit) {
        onDispose { ProcessCameraProvider.getInstance(context).get().unbindAll() }
    }
}
