package org.ward.kit

import java.awt.image.BufferedImage
import java.awt.image.DataBufferInt
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.security.SecureRandom
import java.util.Locale
import java.util.Random
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import javax.imageio.IIOImage
import javax.imageio.ImageIO
import javax.imageio.ImageWriteParam
import kotlinx.coroutines.runBlocking
import org.ward.core.ClientInput
import org.ward.core.ConsentScope
import org.ward.core.KeyStoreException
import org.ward.core.PhotoInput
import org.ward.core.SecureKeyStore
import org.ward.core.VaultConfig
import org.ward.core.WardException
import org.ward.core.WardVault

/*
 * FFI cost as the Android app sees it, measured from Kotlin over JNA against the release core:
 *
 *   ffi_call_overhead_us  median of single calls of a trivial method (WardVault.isLocked)
 *   ffi_status_call_us    the same for status() (returns a record: strings in a RustBuffer)
 *   kit_call_us           the same isLocked() as the app makes it: a suspend call through
 *                         ward-kit's WardSession.call (hop to the core dispatcher and back)
 *   ffi_8mb_ms            an 8 MiB ByteArray into the core: Photos.capture on bytes that are not
 *                         an image, so the core lifts the buffer, sniffs its first bytes and
 *                         returns InvalidInput: transfer + one call + one exception, no crypto
 *                         or I/O
 *   jvm_copy_8mb_ms       System.arraycopy of the same array into a preallocated one (memcpy)
 *   jvm_copyof_8mb_ms     ByteArray.copyOf (allocate + copy on the Java heap)
 *   ratio                 ffi_8mb_ms / jvm_copy_8mb_ms (against the plain memcpy, the stricter
 *                         baseline)
 *   capture_8mb_jpeg_ms   a full capture of an ~8 MB JPEG (strip, encrypt, write, fsync, index)
 *   read_8mb_jpeg_ms      reading it back (read file + decrypt + transfer to Kotlin)
 *
 * Medians of 25 runs after warm-up; xtask runs the JVM with a pre-touched heap so Java-heap
 * page faults do not inflate the JVM baselines. fsync here lands in a host write-back cache,
 * far faster than phone flash: read the capture figure as CPU + transfer cost, not device
 * latency.
 */

private const val EIGHT_MIB = 8 * 1024 * 1024
private const val WARMUP = 5
private const val RUNS = 25

fun main() {
    val tmp = Files.createTempDirectory("ward-ffi-bench").toFile()
    try {
        bench(tmp)
    } finally {
        tmp.deleteRecursively()
    }
}

private fun bench(tmp: File) {
    val vault = WardVault.create(
        VaultConfig(File(tmp, "vault").path, UUID.randomUUID().toString(), UUID.randomUUID().toString(), "bench"),
        BenchKeyStore(),
    )
    vault.setPolicy(vault.policy().copy(idleLockSeconds = 0u))
    val client = vault.clients().create(ClientInput("Bench Client", null, null))
    val consent = vault.consents().record(client.clientId, listOf(ConsentScope.CLINICAL), null).consentId
    val photos = vault.photos()
    val input = PhotoInput("bench", null, consent, null, null)

    // (a) Per-call overhead: time each call on its own, many times.
    repeat(20_000) { vault.isLocked() }
    val callNs = LongArray(20_000) {
        val t0 = System.nanoTime()
        vault.isLocked()
        System.nanoTime() - t0
    }
    val statusNs = LongArray(5_000) {
        val t0 = System.nanoTime()
        vault.status()
        System.nanoTime() - t0
    }

    // (b) 8 MiB through the FFI versus a JVM copy.
    val payload = ByteArray(EIGHT_MIB).also(Random(1)::nextBytes)
    payload[0] = 0 // never a JPEG / HEIC signature
    val ffiNs = measure {
        try {
            photos.capture(client.clientId, payload, input, null)
            error("the core accepted random bytes as a photo")
        } catch (e: WardException.InvalidInput) {
            // expected: the probe's work ends here
        }
    }
    var sink = 0
    val target = ByteArray(EIGHT_MIB)
    val copyNs = measure {
        System.arraycopy(payload, 0, target, 0, EIGHT_MIB)
        sink += target[EIGHT_MIB - 1]
    }
    val copyOfNs = measure {
        val c = payload.copyOf()
        sink += c[c.size - 1]
    }

    // A real capture and read of an ~8 MB JPEG. A small thumbnail is supplied so no background
    // thumbnail thread competes with the next run.
    val jpeg = noiseJpeg(3000, 2300)
    val thumbnail = noiseJpeg(64, 48)
    var lastPhoto = ""
    val captureNs = measure(warmup = 3, runs = RUNS) {
        lastPhoto = photos.capture(client.clientId, jpeg, input, thumbnail).photoId
    }
    val readNs = measure {
        sink += photos.read(lastPhoto).size
    }
    vault.wipe()

    // (a') The per-call cost as the app's screens pay it: through ward-kit's session, which hops
    // to the core dispatcher and back. Measured last so its allocations do not disturb (b).
    val kitNs = kitCallNs(File(tmp, "kit-vault"))

    val ffiMs = median(ffiNs) / 1e6
    val copyMs = median(copyNs) / 1e6
    out("ffi_call_overhead_us", median(callNs) / 1e3)
    out("ffi_status_call_us", median(statusNs) / 1e3)
    out("kit_call_us", median(kitNs) / 1e3)
    out("ffi_8mb_ms", ffiMs)
    out("jvm_copy_8mb_ms", copyMs)
    out("jvm_copyof_8mb_ms", median(copyOfNs) / 1e6)
    out("ratio", ffiMs / copyMs)
    out("capture_8mb_jpeg_ms", median(captureNs) / 1e6)
    out("read_8mb_jpeg_ms", median(readNs) / 1e6)
    println("# 8mb = $EIGHT_MIB bytes; capture JPEG = ${jpeg.size} bytes; medians of $RUNS runs (sink $sink)")
}

private fun kitCallNs(dir: File): LongArray {
    val dispatchers = CoreDispatchers.create()
    val session = WardSession(dir, BenchKeyStore(), dispatchers)
    try {
        return runBlocking {
            session.create(UUID.randomUUID().toString(), UUID.randomUUID().toString(), "bench")
            repeat(5_000) { session.call { it.isLocked() } }
            LongArray(5_000) {
                val t0 = System.nanoTime()
                session.call { it.isLocked() }
                System.nanoTime() - t0
            }
        }
    } finally {
        session.close()
        dispatchers.close()
    }
}

private fun measure(warmup: Int = WARMUP, runs: Int = RUNS, body: () -> Unit): LongArray {
    repeat(warmup) { body() }
    return LongArray(runs) {
        val t0 = System.nanoTime()
        body()
        System.nanoTime() - t0
    }
}

private fun median(samples: LongArray): Double {
    val s = samples.sorted()
    val mid = s.size / 2
    return if (s.size % 2 == 1) s[mid].toDouble() else (s[mid - 1] + s[mid]) / 2.0
}

private fun out(name: String, value: Double) = println(String.format(Locale.ROOT, "%s=%.3f", name, value))

private fun noiseJpeg(width: Int, height: Int): ByteArray {
    val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
    val pixels = (image.raster.dataBuffer as DataBufferInt).data
    val random = Random(9)
    for (i in pixels.indices) pixels[i] = random.nextInt() and 0xFFFFFF
    val writer = ImageIO.getImageWritersByFormatName("jpeg").next()
    val param = writer.defaultWriteParam.apply {
        compressionMode = ImageWriteParam.MODE_EXPLICIT
        compressionQuality = 0.95f
    }
    val bytes = ByteArrayOutputStream()
    ImageIO.createImageOutputStream(bytes).use { stream ->
        writer.output = stream
        writer.write(null, IIOImage(image, null, null), param)
    }
    writer.dispose()
    return bytes.toByteArray()
}

/** AES-GCM key wrapping with in-memory per-alias keys (the test suite's JvmKeyStore, trimmed). */
private class BenchKeyStore : SecureKeyStore {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    private val random = SecureRandom()

    override fun wrapKey(alias: String, key: ByteArray): ByteArray {
        val secret = keys.computeIfAbsent(alias) {
            KeyGenerator.getInstance("AES").apply { init(256, random) }.generateKey()
        }
        val iv = ByteArray(12).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, secret, GCMParameterSpec(128, iv))
        return iv + cipher.doFinal(key)
    }

    override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray {
        val secret = keys[alias] ?: throw KeyStoreException.KeyInvalidated()
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, secret, GCMParameterSpec(128, wrapped, 0, 12))
        return cipher.doFinal(wrapped, 12, wrapped.size - 12)
    }

    override fun destroyKey(alias: String) {
        keys.remove(alias)
    }
}
