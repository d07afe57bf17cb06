package org.ward.kit

import java.util.concurrent.TimeUnit
import org.ward.core.KeyStoreException
import org.ward.core.PasskeyException
import org.ward.core.WardException

/**
 * What the user is told about a failure. Core errors never carry clinical content; these
 * messages do not either, and they say what to do next.
 */
fun userMessage(e: Throwable): String = when (e) {
    is WardException.Locked -> "Ward is locked. Unlock to continue."
    is WardException.KeyUnavailable -> "Unlock was cancelled or the device key is unavailable. Try again."
    is WardException.WrongKey -> "This vault cannot be opened on this device."
    is WardException.Wiped -> "This device was wiped. Enroll it again."
    is WardException.WipePending -> WIPE_PENDING_NOTICE
    is WardException.RateLimited -> "The server asked Ward to slow down. Try again in ${waitText(e.retryAfterSeconds.toLong())}; your work is kept on this phone."
    is WardException.NotFound -> "That record no longer exists."
    is WardException.InvalidInput -> "Check the input: ${e.detail}"
    is WardException.NotAllowed -> "Not allowed: ${e.detail}"
    is WardException.Corrupt -> "This record is damaged and cannot be shown."
    is WardException.Storage -> "Storage problem. Free some space and try again."
    is WardException.Offline -> "No connection. Your work is kept on this phone and syncs later."
    is WardException.SignInRequired -> "Sign in again with your passkey."
    is WardException.ServerRefused -> "The server refused the request: ${e.detail}"
    is WardException.Cancelled -> "Cancelled."
    is WardException -> "Something went wrong. Please report it."
    is KeyStoreException.UserCancelled, is PasskeyException.UserCancelled -> "Cancelled."
    else -> "Something went wrong. Please report it."
}

/** "just now", "5 minutes", "3 hours", "2 days": the age of unsynced work or of the last sync. */
fun ageText(ageMs: Long): String {
    val minutes = TimeUnit.MILLISECONDS.toMinutes(ageMs.coerceAtLeast(0))
    return when {
        minutes < 1 -> "just now"
        minutes < 60 -> plural(minutes, "minute")
        minutes < 48 * 60 -> plural(minutes / 60, "hour")
        else -> plural(minutes / (24 * 60), "day")
    }
}

private fun plural(n: Long, unit: String) = if (n == 1L) "1 $unit" else "$n ${unit}s"
