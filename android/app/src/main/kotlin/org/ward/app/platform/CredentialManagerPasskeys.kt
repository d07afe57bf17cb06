package org.ward.app.platform

import android.app.Activity
import androidx.credentials.CreatePublicKeyCredentialRequest
import androidx.credentials.CreatePublicKeyCredentialResponse
import androidx.credentials.CredentialManager
import androidx.credentials.GetCredentialRequest
import androidx.credentials.GetPublicKeyCredentialOption
import androidx.credentials.PublicKeyCredential
import androidx.credentials.exceptions.CreateCredentialCancellationException
import androidx.credentials.exceptions.GetCredentialCancellationException
import androidx.credentials.exceptions.NoCredentialException
import java.lang.ref.WeakReference
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.ward.core.PasskeyException
import org.ward.core.PasskeyProvider

/**
 * The core's [PasskeyProvider] on Credential Manager. The core hands over the server's WebAuthn
 * options (`{"publicKey": {...}}`); Credential Manager takes the inner object as JSON and returns
 * the credential as WebAuthn JSON, which goes back to the core unchanged. The origin the server
 * sees is `android:apk-key-hash:<sha256 of the signing certificate>` (the backend serves
 * assetlinks.json for the RP domain).
 *
 * Called by the core on the sync dispatcher, so it may block while the system sheet is shown.
 */
class CredentialManagerPasskeys(activity: Activity) : PasskeyProvider {
    private val activity = WeakReference(activity)

    override fun createPasskey(optionsJson: String): String {
        val a = activity.get() ?: throw PasskeyException.Failed("no activity")
        val request = CreatePublicKeyCredentialRequest(requestJson = publicKey(optionsJson))
        return try {
            val response = runBlocking { CredentialManager.create(a).createCredential(a, request) }
            (response as? CreatePublicKeyCredentialResponse)?.registrationResponseJson
                ?: throw PasskeyException.Failed("unexpected credential type")
        } catch (e: CreateCredentialCancellationException) {
            throw PasskeyException.UserCancelled()
        } catch (e: PasskeyException) {
            throw e
        } catch (e: Exception) {
            throw PasskeyException.Failed(e.javaClass.simpleName)
        }
    }

    override fun getPasskey(optionsJson: String): String {
        val a = activity.get() ?: throw PasskeyException.Failed("no activity")
        val request = GetCredentialRequest(listOf(GetPublicKeyCredentialOption(requestJson = publicKey(optionsJson))))
        return try {
            val result = runBlocking { CredentialManager.create(a).getCredential(a, request) }
            (result.credential as? PublicKeyCredential)?.authenticationResponseJson
                ?: throw PasskeyException.Failed("unexpected credential type")
        } catch (e: GetCredentialCancellationException) {
            throw PasskeyException.UserCancelled()
        } catch (e: NoCredentialException) {
            throw PasskeyException.NoCredential()
        } catch (e: PasskeyException) {
            throw e
        } catch (e: Exception) {
            throw PasskeyException.Failed(e.javaClass.simpleName)
        }
    }

    private fun publicKey(optionsJson: String): String =
        JSONObject(optionsJson).optJSONObject("publicKey")?.toString() ?: optionsJson
}
