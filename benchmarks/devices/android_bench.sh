#!/usr/bin/env bash
# Per-step latency of an ExecuTorch bundle on an Android phone, through the C++ runner of bindings/cpp.
#
#   benchmarks/devices/android_bench.sh BUILD_DIR BUNDLE [RUNS] [OUT_DIR]
#
# BUILD_DIR holds moebius_edge_run cross-compiled for arm64-v8a by bindings/cpp/android/build_native.sh (the
# Android module's CMake build); when it has none, this script runs build_native.sh into it first (ANDROID_NDK and
# EXECUTORCH_ANDROID_DIR set). Not run here: no phone, NDK or adb on the project's machines.
# Pushes the runner, the bundle and a bundled sample (as PPM/PGM) to /data/local/tmp/moebius, runs one warm-up
# inpaint and RUNS timed ones (default 5), and pulls the runner's JSON (per-stage medians and every step's
# time) to OUT_DIR/android-<bundle>.json, with the phone's model and SoC beside it.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n 2,12p "$0"; exit 2; fi
BUILD_DIR=$1; BUNDLE=${2%/}; RUNS=${3:-5}; OUT_DIR=${4:-.}
NAME=$(basename "$BUNDLE"); REMOTE=/data/local/tmp/moebius
command -v adb >/dev/null || { echo "adb not found: install Android platform-tools" >&2; exit 2; }
if [ ! -x "$BUILD_DIR/moebius_edge_run" ]; then
  "$(dirname "$0")/../../bindings/cpp/android/build_native.sh" "$BUILD_DIR" arm64-v8a
fi
[ -f "$BUNDLE/manifest.json" ] || { echo "$BUNDLE is not a bundle (no manifest.json)" >&2; exit 2; }
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
# The runner reads PPM/PGM: convert the first bundled sample on the host.
python - "$WORK" <<'PY'
import sys
from PIL import Image
from edge_sdk.samples import sample_pairs
image, mask = sample_pairs()[0]
Image.open(image).convert("RGB").save(f"{sys.argv[1]}/image.ppm")
Image.open(mask).convert("L").save(f"{sys.argv[1]}/mask.pgm")
PY
adb shell "mkdir -p $REMOTE"
adb push "$BUILD_DIR/moebius_edge_run" "$REMOTE/" >/dev/null
for library in libmoebius_edge.so libc++_shared.so; do
  [ -f "$BUILD_DIR/$library" ] && adb push "$BUILD_DIR/$library" "$REMOTE/" >/dev/null
done
adb push "$BUNDLE" "$REMOTE/" >/dev/null
adb push "$WORK/image.ppm" "$WORK/mask.pgm" "$REMOTE/" >/dev/null
adb shell "cd $REMOTE && LD_LIBRARY_PATH=. ./moebius_edge_run $NAME image.ppm mask.pgm out.ppm --bench $RUNS --json bench-$NAME.json"
adb pull "$REMOTE/bench-$NAME.json" "$OUT_DIR/android-$NAME.json" >/dev/null
MODEL=$(adb shell getprop ro.product.model | tr -d '\r'); SOC=$(adb shell getprop ro.soc.model | tr -d '\r')
python - "$OUT_DIR/android-$NAME.json" "$MODEL" "$SOC" <<'PY'
import json, sys
path, model, soc = sys.argv[1:]
result = json.load(open(path))
result["device"] = {"model": model, "soc": soc}
json.dump(result, open(path, "w"), indent=2)
m = result["median_ms"]
print(f"{model} ({soc}): step {m['step']:.1f} ms, encode {m['encode']:.1f} ms, decode {m['decode']:.1f} ms, total {m['total']:.1f} ms -> {path}")
PY
