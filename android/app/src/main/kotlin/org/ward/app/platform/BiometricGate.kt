package org.ward.app.platform

import android.os.Looper
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import java.lang.ref.WeakReference
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutionException
import javax.crypto.Cipher

/** The user dismissed the prompt, or biometrics failed for good. */
class BiometricCancelled(message: String) : Exception(message)

/**
 * Shows a BiometricPrompt bound to a Keystore [Cipher] (CryptoObject) and waits for it, from a
 * core thread: the core calls `SecureKeyStore.unwrapKey` on the core dispatcher and blocks there
 * until the user authenticates. The foreground activity registers itself with [attach].
 */
object BiometricGate {
    @Volatile
    private var activity: WeakReference<FragmentActivity>? = null

    fun attach(a: FragmentActivity) {
        activity = WeakReference(a)
    }

    fun detach(a: FragmentActivity) {
        if (activity?.get() === a) activity = null
    }

    /** Blocks until the user authenticated [cipher]; never call on the main thread. */
    fun authenticate(cipher: Cipher, title: String): Cipher {
        check(Looper.myLooper() != Looper.getMainLooper()) { "biometric wait on the main thread" }
        val a = activity?.get() ?: throw BiometricCancelled("no activity in the foreground")
        val result = CompletableFuture<Cipher>()
        a.runOnUiThread {
            val prompt = BiometricPrompt(
                a,
                ContextCompat.getMainExecutor(a),
                object : BiometricPrompt.AuthenticationCallback() {
                    override fun onAuthenticationSucceeded(r: BiometricPrompt.AuthenticationResult) {
                        val c = r.cryptoObject?.cipher
                        if (c != null) result.complete(c) else result.completeExceptionally(BiometricCancelled("no cipher"))
                    }

                    override fun onAuthenticationError(code: Int, message: CharSequence) {
                        result.completeExceptionally(BiometricCancelled(message.toString()))
                    }
                },
            )
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(title)
                .setNegativeButtonText("Cancel")
                .setAllowedAuthenticators(BIOMETRIC_STRONG)
                .build()
            prompt.authenticate(info, BiometricPrompt.CryptoObject(cipher))
        }
        return try {
            result.get()
        } catch (e: ExecutionException) {
            throw e.cause ?: e
        }
    }
}
