// An AAR with the Kotlin wrapper (src/main/kotlin: the JDK-only core and the Bitmap adapter) and, for each ABI,
// libmoebius_edge.so + libmoebius_edge_jni.so built by the NDK's CMake from bindings/cpp against an ExecuTorch
// install for Android. Not built here (no Android SDK or NDK); build_native.sh runs the same CMake by hand.
//
//   gradle assembleRelease -Pmoebius.executorchDir=/path/to/et-android/install     # → build/outputs/aar/
//
// The ExecuTorch install must match the ABIs below (one install per ABI: pass -Pmoebius.abi=x86_64 for an emulator).
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
}

val executorchDir: String = (findProperty("moebius.executorchDir") as String?)
    ?: System.getenv("EXECUTORCH_ANDROID_DIR")
    ?: throw GradleException("set -Pmoebius.executorchDir (or EXECUTORCH_ANDROID_DIR) to an ExecuTorch install for Android")
val executorchConfig: File = fileTree(executorchDir).matching { include("**/executorch-config.cmake") }.files.firstOrNull()
    ?: throw GradleException("$executorchDir has no executorch-config.cmake: build and install ExecuTorch for Android first")
val abi: String = (findProperty("moebius.abi") as String?) ?: "arm64-v8a"

android {
    namespace = "ai.moebius.edge"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = 28
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += abi }
        externalNativeBuild {
            cmake {
                arguments += listOf(
                    "-DANDROID_STL=c++_shared",
                    "-Dexecutorch_DIR=${executorchConfig.parentFile.absolutePath}",
                    "-DMOEBIUS_BUILD_JNI=ON",
                    "-DMOEBIUS_BUILD_TOOLS=OFF",
                )
                targets += listOf("moebius_edge", "moebius_edge_jni")
            }
        }
    }
    externalNativeBuild {
        cmake {
            path = file("../CMakeLists.txt")
            version = "3.22.1"
        }
    }
    // The host JVM check (hostTest/) is run by tests/test_bindings_kotlin.py with kotlinc, not by Gradle.
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}
