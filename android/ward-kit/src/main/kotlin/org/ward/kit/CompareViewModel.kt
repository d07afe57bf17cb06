package org.ward.kit

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.ward.core.PhotoView

/** Two photos side by side (or with a slider): decrypted bytes in memory only. */
class CompareUiState(
    val before: PhotoView? = null,
    val after: PhotoView? = null,
    val beforeJpeg: ByteArray? = null,
    val afterJpeg: ByteArray? = null,
    val loading: Boolean = true,
    val error: String? = null,
)

/**
 * Before/after comparison of two photos of one client. With no explicit pair it picks the
 * oldest and newest photo of the same series.
 */
class CompareViewModel(
    private val clientId: String,
    private val photos: PhotoRepository,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(CompareUiState())
    val state: StateFlow<CompareUiState> = _state.asStateFlow()
    /** The device-wide notice shown above this screen (pending wipe, lease warning, rate limit). */
    val notice: StateFlow<String?> = photos.notice

    fun load(beforeId: String? = null, afterId: String? = null) {
        scope.launch {
            _state.value = try {
                val all = photos.list(clientId).sortedBy { it.takenAtMs }
                val (b, a) = pick(all, beforeId, afterId)
                if (b == null || a == null) {
                    CompareUiState(loading = false, error = "Take at least two photos of the same series to compare.")
                } else {
                    val bj = async { photos.read(b.photoId) }
                    val aj = async { photos.read(a.photoId) }
                    CompareUiState(b, a, bj.await(), aj.await(), loading = false)
                }
            } catch (e: Exception) {
                CompareUiState(loading = false, error = userMessage(e))
            }
        }
    }

    /** Drops the decrypted bytes (screen left, app backgrounded). */
    fun clear() {
        _state.value.beforeJpeg?.fill(0)
        _state.value.afterJpeg?.fill(0)
        _state.value = CompareUiState(loading = false)
    }

    companion object {
        /** The pair to compare: the given ids, else the first and last photo of the newest series. */
        fun pick(sorted: List<PhotoView>, beforeId: String?, afterId: String?): Pair<PhotoView?, PhotoView?> {
            if (beforeId != null && afterId != null) {
                return sorted.find { it.photoId == beforeId } to sorted.find { it.photoId == afterId }
            }
            val series = sorted.lastOrNull { it.series != null }?.series
            val inSeries = if (series != null) sorted.filter { it.series == series } else sorted
            return if (inSeries.size < 2) null to null else inSeries.first() to inSeries.last()
        }
    }
}
