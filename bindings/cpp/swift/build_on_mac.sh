#!/usr/bin/env bash
# Builds the Swift package on a Mac: libmoebius_edge for macOS (CMake, against an ExecuTorch install built for
# macOS with its Core ML and XNNPACK backends), then `swift build` linking it. Not run here: there is no Swift
# toolchain or macOS on the project's machines (tests/test_bindings_swift_mirror.py checks the package's C calls).
#
#   EXECUTORCH_DIR=/path/to/et-macos/install bindings/cpp/swift/build_on_mac.sh [BUILD_DIR]
#
# BUILD_DIR (default build/swift-macos) receives libmoebius_edge.dylib; the package is then built with
#   swift build --package-path bindings/cpp/swift -Xlinker -L<BUILD_DIR> -Xlinker -rpath -Xlinker <BUILD_DIR>
# For iOS, build ExecuTorch and libmoebius_edge with an iOS toolchain file and add the library to the Xcode target.
set -euo pipefail
if [ "$(uname -s)" != Darwin ]; then echo "build_on_mac.sh needs macOS with Xcode's Swift toolchain (this is $(uname -s))" >&2; exit 2; fi
command -v swift >/dev/null || { echo "swift not found: install Xcode or its command line tools" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${1:-build/swift-macos}
config=$(find "${EXECUTORCH_DIR:-/nonexistent}" -name executorch-config.cmake -print -quit 2>/dev/null || true)
[ -n "$config" ] || { echo "EXECUTORCH_DIR must be an ExecuTorch install for macOS (no executorch-config.cmake in it)" >&2; exit 2; }
cmake -S "$HERE/.." -B "$BUILD_DIR" -Dexecutorch_DIR="$(dirname "$config")" -DMOEBIUS_BUILD_TOOLS=ON
cmake --build "$BUILD_DIR" -j"$(sysctl -n hw.ncpu)"
LIB_DIR=$(cd "$BUILD_DIR" && pwd)
swift build --package-path "$HERE" -c release -Xlinker -L"$LIB_DIR" -Xlinker -rpath -Xlinker "$LIB_DIR"
# The C calls the package makes, under AddressSanitizer as on Linux, when a bundle is given.
if [ -n "${MOEBIUS_TEST_BUNDLE:-}" ]; then "$LIB_DIR/moebius_swift_call_mirror" "$MOEBIUS_TEST_BUNDLE" "$LIB_DIR/no-such-bundle"; fi
echo "built the MoebiusEdge Swift package against $LIB_DIR/libmoebius_edge.dylib"
