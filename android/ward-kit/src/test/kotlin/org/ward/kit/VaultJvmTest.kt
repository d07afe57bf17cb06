package org.ward.kit

import java.awt.image.BufferedImage
import java.awt.image.DataBufferInt
import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.util.Random
import java.util.UUID
import javax.imageio.IIOImage
import javax.imageio.ImageIO
import javax.imageio.ImageWriteParam
import org.junit.After
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.ward.core.ClientInput
import org.ward.core.ClientView
import org.ward.core.ConsentScope
import org.ward.core.KeyStoreException
import org.ward.core.NoteBody
import org.ward.core.NoteStatus
import org.ward.core.PhotoInput
import org.ward.core.SecureKeyStore
import org.ward.core.VaultConfig
import org.ward.core.WardException
import org.ward.core.WardVault

/**
 * The generated Kotlin bindings against the host-built core, on the desktop JVM: the same
 * calls the Android app makes, with a Kotlin [SecureKeyStore] standing in for the Android
 * Keystore.
 */
class VaultJvmTest {
    private val tmp: File = Files.createTempDirectory("ward-jvm-test").toFile()
    private val vaultDir = File(tmp, "vault")
    private val handles = mutableListOf<AutoCloseable>()

    @After
    fun cleanUp() {
        closeAll()
        tmp.deleteRecursively()
    }

    /** Releases every Rust object this test holds (as the app process ending would). */
    private fun closeAll() {
        handles.asReversed().forEach { runCatching { it.close() } }
        handles.clear()
    }

    private fun <T : AutoCloseable> keep(handle: T): T = handle.also { handles += it }

    private fun createVault(keyStore: SecureKeyStore): WardVault =
        keep(
            WardVault.create(
                VaultConfig(
                    dir = vaultDir.path,
                    tenantId = UUID.randomUUID().toString(),
                    deviceId = UUID.randomUUID().toString(),
                    userId = "nurse.jvm@example.org",
                ),
                keyStore,
            ),
        )

    private fun addClient(vault: WardVault, name: String = "Ada Lovelace"): ClientView =
        keep(vault.clients()).create(ClientInput(name, "1815-12-10", "CH-0001"))

    /** Records an active clinical consent (photo capture requires one by default). */
    private fun clinicalConsent(vault: WardVault, clientId: String): String =
        keep(vault.consents())
            .record(clientId, listOf(ConsentScope.CLINICAL), "verbal, witnessed")
            .consentId

    @Test
    fun noteIsWrittenAndReadBack() {
        val vault = createVault(JvmKeyStore())
        val client = addClient(vault)
        val notes = keep(vault.notes())
        val body = NoteBody.Soap("itchy rash", "2 cm erythema, left forearm", "contact dermatitis", "review in 2 weeks")
        val draft = notes.create(client.clientId, body)
        assertEquals(NoteStatus.DRAFT, draft.status)

        val read = notes.get(draft.noteId)
        assertEquals(body, read.body)
        assertEquals(client.clientId, read.clientId)
        assertEquals("nurse.jvm@example.org", read.author)
        assertEquals(listOf(draft.noteId), notes.list(client.clientId).map { it.noteId })

        val signed = notes.sign(draft.noteId, draft.versionId)
        assertEquals(NoteStatus.SIGNED, signed.status)
        val refused = expect<WardException.NotAllowed> { notes.edit(draft.noteId, signed.versionId, NoteBody.Text("changed")) }
        assertTrue(refused.detail, refused.detail.contains("signed"))
    }

    @Test
    fun photoCaptureNeedsConsent() {
        val vault = createVault(JvmKeyStore())
        val client = addClient(vault)
        expect<WardException.NotAllowed> {
            keep(vault.photos()).capture(client.clientId, smallJpeg(), PhotoInput("no consent", null, null, null, null), null)
        }
    }

    @Test
    fun fiveMegabytePhotoRoundTripsWithoutMetadata() {
        val vault = createVault(JvmKeyStore())
        val client = addClient(vault)
        val consent = clinicalConsent(vault, client.clientId)
        val clean = noiseJpeg(2400, 1800, seed = 42)
        val input = withMetadata(clean)
        assertTrue("test image is ${input.size} bytes, wanted >= 5 MB", input.size >= 5_000_000)

        val photos = keep(vault.photos())
        val view = photos.capture(
            client.clientId,
            input,
            PhotoInput("left forearm", "arm/left", consent, "rash", "before"),
            null,
        )
        assertEquals("image/jpeg", view.contentType)
        assertEquals(consent, view.consentId)
        assertTrue(view.removedMetadata.toString(), view.removedMetadata.containsAll(listOf("APP1/XMP", "COM", "GPS")))

        val stored = photos.read(view.photoId)
        assertEquals(view.byteLen.toLong(), stored.size.toLong())
        // Capture removes metadata segments and nothing else: what is stored is exactly the
        // encoder's output without the injected comment and XMP.
        assertTrue("stored ${stored.size} bytes, input ${input.size}", stored.size < input.size)
        assertArrayEquals(clean, stored)
        val decoded = ImageIO.read(ByteArrayInputStream(stored))
        assertNotNull("stored bytes do not decode as an image", decoded)
        assertEquals(2400, decoded.width)
        assertEquals(1800, decoded.height)

        // Progressive loading returns the same bytes chunk by chunk.
        val chunks = photos.chunkCount(view.photoId)
        assertTrue(chunks > 1UL)
        val joined = ByteArrayOutputStream(stored.size)
        for (i in 0UL until chunks) joined.write(photos.readChunk(view.photoId, i))
        assertArrayEquals(stored, joined.toByteArray())

        val thumb = ImageIO.read(ByteArrayInputStream(photos.thumbnail(view.photoId)))
        assertNotNull("thumbnail does not decode", thumb)
        assertTrue(maxOf(thumb.width, thumb.height) <= vault.policy().thumbnailMaxEdge.toInt())
        assertEquals(listOf(view.photoId), photos.list(client.clientId).map { it.photoId })
    }

    @Test
    fun lockRefusesCallsAndUnlockBringsDataBack() {
        val keyStore = JvmKeyStore()
        val vault = createVault(keyStore)
        val client = addClient(vault)
        val consent = clinicalConsent(vault, client.clientId)
        val notes = keep(vault.notes())
        val photos = keep(vault.photos())
        val clients = keep(vault.clients())
        val note = notes.create(client.clientId, NoteBody.Text("follow-up booked"))
        val jpeg = smallJpeg()
        val photo = photos.capture(client.clientId, jpeg, PhotoInput("", null, consent, null, null), null)

        vault.lock()
        assertTrue(vault.isLocked())
        assertTrue(vault.status().locked)
        expect<WardException.Locked> { clients.list() }
        expect<WardException.Locked> { clients.get(client.clientId) }
        expect<WardException.Locked> { notes.get(note.noteId) }
        expect<WardException.Locked> { photos.read(photo.photoId) }
        expect<WardException.Locked> { clients.create(ClientInput("Someone Else", null, null)) }

        vault.unlock()
        assertFalse(vault.isLocked())
        assertEquals(client, clients.get(client.clientId))
        assertEquals(NoteBody.Text("follow-up booked"), notes.get(note.noteId).body)
        assertArrayEquals(jpeg, photos.read(photo.photoId))

        // The vault on disk opens (locked) with the same key store, as after an app restart.
        closeAll()
        val reopened = keep(WardVault.open(vaultDir.path, keyStore))
        assertTrue(reopened.isLocked())
        reopened.unlock()
        assertEquals(listOf(client), keep(reopened.clients()).list())
        assertEquals(NoteBody.Text("follow-up booked"), keep(reopened.notes()).get(note.noteId).body)
    }

    @Test
    fun wipeDeletesTheFolderAndDestroysTheKey() {
        val keyStore = JvmKeyStore()
        val vault = createVault(keyStore)
        addClient(vault)
        val aliases = keyStore.aliases()
        assertEquals(1, aliases.size)
        val alias = aliases.single()
        assertTrue(alias.startsWith("ward-vault-"))
        assertTrue(vaultDir.isDirectory)

        vault.wipe()
        assertFalse("vault folder still exists", vaultDir.exists())
        assertFalse("key store still holds $alias", keyStore.holds(alias))
        assertTrue(vault.status().wiped)
        expect<WardException.Wiped> { vault.unlock() }
        expect<WardException> { keep(vault.clients()).list() }
    }

    @Test
    fun keyFromAnotherVaultIsWrongKey() {
        val keyStore = object : JvmKeyStore() {
            override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray = ByteArray(32).also(Random(7)::nextBytes)
        }
        val vault = createVault(keyStore)
        addClient(vault)
        vault.lock()
        expect<WardException.WrongKey> { vault.unlock() }
        assertTrue(vault.isLocked())
    }

    @Test
    fun userCancellingTheKeyStorePromptIsKeyUnavailable() {
        val keyStore = object : JvmKeyStore() {
            override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray = throw KeyStoreException.UserCancelled()
        }
        val vault = createVault(keyStore)
        vault.lock()
        val e = expect<WardException.KeyUnavailable> { vault.unlock() }
        assertTrue(e.detail, e.detail.contains("cancelled"))
        assertTrue(vault.isLocked())
    }

    @Test
    fun unexpectedKeyStoreExceptionIsKeyUnavailable() {
        val keyStore = object : JvmKeyStore() {
            override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray = throw IllegalStateException("keystore daemon died")
        }
        val vault = createVault(keyStore)
        vault.lock()
        expect<WardException.KeyUnavailable> { vault.unlock() }
        assertTrue(vault.isLocked())
    }

    @Test
    fun randomBytesAreRejectedAsInvalidInput() {
        val vault = createVault(JvmKeyStore())
        val client = addClient(vault)
        val consent = clinicalConsent(vault, client.clientId)
        val photos = keep(vault.photos())
        val input = PhotoInput("", null, consent, null, null)
        val garbage = ByteArray(1 shl 20).also(Random(1)::nextBytes)
        expect<WardException.InvalidInput> { photos.capture(client.clientId, garbage, input, null) }
        expect<WardException.InvalidInput> { photos.capture(client.clientId, ByteArray(0), input, null) }
        // A JPEG signature followed by garbage is malformed, not a photo.
        val fake = byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte(), 0xE0.toByte()) + garbage
        expect<WardException.InvalidInput> { photos.capture(client.clientId, fake, input, null) }
        assertTrue(photos.list(client.clientId).isEmpty())
    }

    @Test
    fun invalidIdsAreInvalidInput() {
        val vault = createVault(JvmKeyStore())
        expect<WardException.InvalidInput> { keep(vault.clients()).get("not-a-uuid") }
        expect<WardException.NotFound> { keep(vault.clients()).get(UUID.randomUUID().toString()) }
    }

    private companion object {
        inline fun <reified T : Throwable> expect(block: () -> Unit): T {
            try {
                block()
            } catch (e: Throwable) {
                if (e is T) return e
                throw AssertionError("expected ${T::class.qualifiedName}, got $e", e)
            }
            fail("expected ${T::class.qualifiedName}, nothing was thrown")
            throw IllegalStateException("unreachable")
        }

        /** A JPEG of random noise (incompressible, so large) at high quality. */
        fun noiseJpeg(width: Int, height: Int, seed: Long): ByteArray {
            val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
            val pixels = (image.raster.dataBuffer as DataBufferInt).data
            val random = Random(seed)
            for (i in pixels.indices) pixels[i] = random.nextInt() and 0xFFFFFF
            return encodeJpeg(image, 0.95f)
        }

        fun smallJpeg(): ByteArray = noiseJpeg(64, 48, seed = 3)

        fun encodeJpeg(image: BufferedImage, quality: Float): ByteArray {
            val writer = ImageIO.getImageWritersByFormatName("jpeg").next()
            val param = writer.defaultWriteParam.apply {
                compressionMode = ImageWriteParam.MODE_EXPLICIT
                compressionQuality = quality
            }
            val out = ByteArrayOutputStream()
            ImageIO.createImageOutputStream(out).use { stream ->
                writer.output = stream
                writer.write(null, IIOImage(image, null, null), param)
            }
            writer.dispose()
            return out.toByteArray()
        }

        /** [jpeg] with a comment and an XMP packet holding GPS data after its JFIF header. */
        fun withMetadata(jpeg: ByteArray): ByteArray {
            check(jpeg[2] == 0xFF.toByte() && jpeg[3] == 0xE0.toByte()) { "expected a JFIF header" }
            val afterApp0 = 4 + ((jpeg[4].toInt() and 0xFF) shl 8 or (jpeg[5].toInt() and 0xFF))
            val xmp = "http://ns.adobe.com/xap/1.0/\u0000<x:xmpmeta><exif:GPSLatitude>51,30.0N</exif:GPSLatitude></x:xmpmeta>"
            return jpeg.copyOfRange(0, afterApp0) +
                segment(0xE1, xmp.toByteArray(Charsets.UTF_8)) +
                segment(0xFE, "patient Ada Lovelace, room 4".toByteArray(Charsets.UTF_8)) +
                jpeg.copyOfRange(afterApp0, jpeg.size)
        }

        fun segment(marker: Int, payload: ByteArray): ByteArray {
            val len = payload.size + 2
            return byteArrayOf(0xFF.toByte(), marker.toByte(), (len shr 8).toByte(), len.toByte()) + payload
        }
    }
}
