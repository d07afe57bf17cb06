// ward-kit: the app's Kotlin layer over the generated bindings — session, repositories and view
// models exposing StateFlow, with coroutine dispatchers for the blocking core calls. Its own
// sources use no android.* API; it is an Android library only because the Android copy of the
// bindings (uniffi `android = true`) is compiled into it.
//
// On the project's Linux machines this module is compiled and its JUnit suite run on the desktop
// JVM by `cargo xtask kotlin-test` (kotlinc, the desktop bindings, the host-built core), not by
// Gradle: see docs/kotlin-jvm.md.
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.ward.kit"
    compileSdk = 35

    defaultConfig {
        minSdk = 30
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            // ward-kit's own code plus the Android copy of the generated bindings, which
            // `cargo xtask android-package` writes to src/generated/kotlin (not committed).
            kotlin.srcDirs("src/main/kotlin", "src/generated/kotlin")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The generated bindings call the core through JNA; the AAR carries libjnidispatch per ABI.
    implementation("${libs.jna.get()}@aar")
    api(libs.kotlinx.coroutines.core)
    implementation(libs.kotlinx.coroutines.android)
}
