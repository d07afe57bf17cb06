// Ward's Android build: `:ward-kit` (Kotlin over the generated bindings: session, repositories,
// view models) and `:app` (Jetpack Compose). Needs the Android SDK, which the project's Linux
// machines do not have: see docs/apps.md. ward-kit's sources and JUnit tests are compiled and run
// on the desktop JVM by `cargo xtask kotlin-test` without Gradle.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "ward-android"
include(":ward-kit", ":app")
