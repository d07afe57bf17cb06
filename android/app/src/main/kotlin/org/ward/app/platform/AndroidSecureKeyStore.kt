package org.ward.app.platform

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.security.KeyStore
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.ward.core.KeyStoreException
import org.ward.core.SecureKeyStore

/**
 * The core's [SecureKeyStore] on the Android Keystore: one non-exportable AES-256-GCM key per
 * alias, in StrongBox when the device has one, usable only after a strong biometric
 * authentication for each operation (a BiometricPrompt bound to the cipher), and invalidated
 * when biometrics are re-enrolled. Ward's vault key exists at rest only wrapped by it
 * (IV ‖ ciphertext ‖ tag, the alias as associated data). [destroyKey] deletes the Keystore
 * entry: the crypto-shred step of a wipe.
 */
class AndroidSecureKeyStore(private val context: Context) : SecureKeyStore {
    private val keyStore: KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    /** Whether the keys are in StrongBox (shown on the settings screen). */
    val strongBox: Boolean
        get() = context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    override fun wrapKey(alias: String, key: ByteArray): ByteArray = guarded {
        val secret = existing(alias) ?: generate(alias)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, secret)
        val authed = BiometricGate.authenticate(cipher, "Protect Ward's data on this phone")
        authed.updateAAD(alias.toByteArray(Charsets.UTF_8))
        val sealed = authed.doFinal(key)
        key.fill(0)
        authed.iv + sealed
    }

    override fun unwrapKey(alias: String, wrapped: ByteArray): ByteArray = guarded {
        val secret = existing(alias) ?: throw KeyStoreException.KeyInvalidated()
        if (wrapped.size <= IV_BYTES) throw KeyStoreException.Unavailable("wrapped key is too short")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, secret, GCMParameterSpec(TAG_BITS, wrapped, 0, IV_BYTES))
        val authed = BiometricGate.authenticate(cipher, "Unlock Ward")
        authed.updateAAD(alias.toByteArray(Charsets.UTF_8))
        authed.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
    }

    override fun destroyKey(alias: String) {
        guarded { if (keyStore.containsAlias(alias)) keyStore.deleteEntry(alias) }
    }

    private fun existing(alias: String): SecretKey? = keyStore.getKey(alias, null) as SecretKey?

    private fun generate(alias: String): SecretKey {
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(
            alias,
            KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
        )
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setUserAuthenticationRequired(true)
            .setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
            .setInvalidatedByBiometricEnrollment(true)
            .setUnlockedDeviceRequired(true)
            .setIsStrongBoxBacked(strongBox)
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        return try {
            generator.init(spec(strongBox))
            generator.generateKey()
        } catch (e: StrongBoxUnavailableException) {
            generator.init(spec(false))
            generator.generateKey()
        }
    }

    /** Maps platform failures onto the core's three key-store errors. */
    private inline fun <T> guarded(block: () -> T): T = try {
        block()
    } catch (e: KeyStoreException) {
        throw e
    } catch (e: BiometricCancelled) {
        throw KeyStoreException.UserCancelled()
    } catch (e: KeyPermanentlyInvalidatedException) {
        throw KeyStoreException.KeyInvalidated()
    } catch (e: AEADBadTagException) {
        throw KeyStoreException.KeyInvalidated()
    } catch (e: Exception) {
        throw KeyStoreException.Unavailable(e.javaClass.simpleName)
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
