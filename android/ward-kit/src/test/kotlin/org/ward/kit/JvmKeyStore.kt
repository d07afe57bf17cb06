package org.ward.kit

import java.security.SecureRandom
import java.util.concurrent.ConcurrentHashMap
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.ward.core.KeyStoreException
import org.ward.core.SecureKeyStore

/**
 * A [SecureKeyStore] for the desktop JVM that behaves like the Android Keystore: one random
 * AES-256 key per alias, created on first use and never handed out; wrapping is AES/GCM with a
 * fresh 96-bit IV (output = IV ‖ ciphertext ‖ tag) and the alias as associated data;
 * [destroyKey] forgets the key, so anything wrapped under it can never be unwrapped again.
 *
 * Only a test double: the keys live in this process's heap, not in secure hardware.
 */
open class JvmKeyStore : SecureKeyStore {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    private val random = SecureRandom()

    /** Whether a key for [alias] exists (a wipe must remove it). */
    fun holds(alias: String): Boolean = keys.containsKey(alias)

    /** The aliases currently held. */
    fun aliases(): Set<String> = keys.keys.toSet()

    override fun wrapKey(alias: String, key: ByteArray): ByteArray {
        val secret = keys.computeIfAbsent(alias) {
            KeyGenerator.getInstance("AES").apply { init(256, random) }.generateKey()
        }
        val iv = ByteArray(IV_BYTES).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, secret, GCMParameterSpec(TAG_BITS, iv))
        cipher.updateAAD(alias.toByteArray(Charsets.UTF_8))
        return iv + cipher.doFinal(key)
    }

    override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray {
        val secret = keys[alias] ?: throw KeyStoreException.KeyInvalidated()
        if (wrapped.size < IV_BYTES + TAG_BITS / 8) {
            throw KeyStoreException.Unavailable("wrapped key is too short")
        }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, secret, GCMParameterSpec(TAG_BITS, wrapped, 0, IV_BYTES))
        cipher.updateAAD(alias.toByteArray(Charsets.UTF_8))
        return try {
            cipher.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw KeyStoreException.KeyInvalidated()
        }
    }

    override fun destroyKey(alias: String) {
        keys.remove(alias)
    }

    private companion object {
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
