package org.ward.app

import android.os.Build
import android.os.Bundle
import android.view.MotionEvent
import android.view.WindowManager
import androidx.activity.compose.setContent
import androidx.fragment.app.FragmentActivity
import org.ward.app.platform.BiometricGate
import org.ward.app.ui.WardApp

/**
 * The only activity. FLAG_SECURE is set before any content: no screenshots, no screen
 * recording, and a blank thumbnail in the app switcher. Compose dialogs open their own windows:
 * each one in ui/ passes `SecureDialog` properties so they are secure too.
 */
class MainActivity : FragmentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            setRecentsScreenshotEnabled(false)
        }
        super.onCreate(savedInstanceState)
        val app = application as WardApplication
        setContent { WardApp(app, this) }
    }

    override fun onResume() {
        super.onResume()
        BiometricGate.attach(this)
    }

    override fun onPause() {
        BiometricGate.detach(this)
        super.onPause()
    }

    /** Every touch counts as activity for the idle lock. */
    override fun dispatchTouchEvent(ev: MotionEvent): Boolean {
        (application as WardApplication).session.touch()
        return super.dispatchTouchEvent(ev)
    }
}
