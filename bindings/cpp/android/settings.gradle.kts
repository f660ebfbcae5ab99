// The Android library module of Moebius Edge, buildable on its own (`gradle assembleRelease` here) or copied into
// an app's build as a module. Not built here: there is no Android SDK on the project's machines.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "moebius-edge"
