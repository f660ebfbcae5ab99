#!/usr/bin/env bash
# Cross-compiles bindings/cpp for Android with the NDK: libmoebius_edge.so, libmoebius_edge_jni.so (the Kotlin
# wrapper's glue) and the moebius_edge_run / moebius_edge_conformance tools, with the CMake arguments the Gradle
# module (build.gradle.kts) passes. Not run here: there is no Android NDK on the project's machines.
#
#   ANDROID_NDK=/path/to/ndk EXECUTORCH_ANDROID_DIR=/path/to/et-android/install \
#     bindings/cpp/android/build_native.sh OUT_DIR [ABI]        # ABI: arm64-v8a (default), x86_64, ...
#
# EXECUTORCH_ANDROID_DIR is an ExecuTorch install built for the same ABI (bindings/cpp/README.md, "Android").
set -euo pipefail
if [ $# -lt 1 ]; then sed -n 2,9p "$0"; exit 2; fi
OUT_DIR=$1; ABI=${2:-arm64-v8a}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "${ANDROID_NDK:-}" ] && [ -f "$ANDROID_NDK/build/cmake/android.toolchain.cmake" ] ||
  { echo "ANDROID_NDK must point at an Android NDK (r27 or newer)" >&2; exit 2; }
config=$(find "${EXECUTORCH_ANDROID_DIR:-/nonexistent}" -name executorch-config.cmake -print -quit 2>/dev/null || true)
[ -n "$config" ] || { echo "EXECUTORCH_ANDROID_DIR must be an ExecuTorch install for Android (no executorch-config.cmake in it)" >&2; exit 2; }
cmake -S "$HERE/.." -B "$OUT_DIR" -DCMAKE_TOOLCHAIN_FILE="$ANDROID_NDK/build/cmake/android.toolchain.cmake" \
  -DANDROID_ABI="$ABI" -DANDROID_PLATFORM=android-28 -DANDROID_STL=c++_shared \
  -Dexecutorch_DIR="$(dirname "$config")" -DMOEBIUS_BUILD_JNI=ON -DMOEBIUS_BUILD_TOOLS=ON
cmake --build "$OUT_DIR" -j"$(nproc 2>/dev/null || echo 4)"
# The tools and libraries need the NDK's shared C++ runtime beside them on the device.
host=$(ls "$ANDROID_NDK/toolchains/llvm/prebuilt" | head -n1)
triple=$(case "$ABI" in arm64-v8a) echo aarch64-linux-android;; x86_64) echo x86_64-linux-android;;
  armeabi-v7a) echo arm-linux-androideabi;; x86) echo i686-linux-android;; esac)
cp "$ANDROID_NDK/toolchains/llvm/prebuilt/$host/sysroot/usr/lib/$triple/libc++_shared.so" "$OUT_DIR/"
echo "built $OUT_DIR: libmoebius_edge.so libmoebius_edge_jni.so moebius_edge_run moebius_edge_conformance libc++_shared.so ($ABI)"
