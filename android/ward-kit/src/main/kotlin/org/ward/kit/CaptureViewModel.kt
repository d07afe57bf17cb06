package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.ward.core.PhotoInput
import org.ward.core.PhotoView

/** The capture screen's state. */
sealed class CaptureUiState {
    /** Camera preview; shutter enabled. */
    object Ready : CaptureUiState()

    /** Bytes are on their way into the vault. */
    object Saving : CaptureUiState()

    /** Stored encrypted; [photo.removedMetadata] lists what was stripped (GPS, …). */
    data class Saved(val photo: PhotoView) : CaptureUiState()

    data class Failed(val message: String) : CaptureUiState()
}

/**
 * Camera capture for one client. The platform camera delivers the JPEG in memory (CameraX
 * `OnImageCapturedCallback`, AVCapturePhotoOutput `fileDataRepresentation()`); [onImageCaptured]
 * hands it to the core, which strips metadata (GPS included) and encrypts it before anything
 * touches the disk. The consent is looked up here: the core refuses a photo without one when the
 * clinic's policy requires it.
 */
class CaptureViewModel(
    private val clientId: String,
    private val photos: PhotoRepository,
    private val consents: ConsentRepository,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow<CaptureUiState>(CaptureUiState.Ready)
    val state: StateFlow<CaptureUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = photos.notice

    /** Caption, body area and before/after series the user picked before pressing the shutter. */
    var caption: String = ""
    var bodyArea: String? = null
    var series: String? = null
    var seriesLabel: String? = null

    /**
     * The camera's in-memory JPEG. The array is handed over: the caller must not keep it, and
     * it is zeroed once the core has it.
     */
    fun onImageCaptured(jpeg: ByteArray) {
        _state.value = CaptureUiState.Saving
        scope.launch {
            _state.value = try {
                val consent = consents.activeClinical(clientId)
                val input = PhotoInput(caption, bodyArea, consent?.consentId, series, seriesLabel)
                CaptureUiState.Saved(photos.capture(clientId, jpeg, input))
            } catch (e: Exception) {
                CaptureUiState.Failed(userMessage(e))
            } finally {
                jpeg.fill(0)
            }
        }
    }

    fun onCaptureError(message: String) {
        _state.value = CaptureUiState.Failed(message)
    }

    fun reset() {
        _state.value = CaptureUiState.Ready
    }
}
