#!/usr/bin/env bash
# TensorRT on a Jetson or desktop GPU: per-step latency of a bundle's step graph with NVIDIA's trtexec, plus
# `moebius-edge bench` where the TensorRT Python runtime is installed (it runs the bundle's engines).
#
#   benchmarks/devices/tensorrt_trtexec.sh BUNDLE OUT_DIR
#
# trtexec ships with TensorRT (/usr/src/tensorrt/bin/trtexec on JetPack). The step graph is timed alone
# (--loadEngine for a bundle that holds an engine built on this device, else built from the ONNX file);
# its JSON goes to OUT_DIR/trtexec-step.json.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n 2,9p "$0"; exit 2; fi
BUNDLE=${1%/}; OUT=$2; mkdir -p "$OUT"
TRTEXEC=$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)
[ -x "$TRTEXEC" ] || { echo "trtexec not found: install TensorRT (JetPack on a Jetson)" >&2; exit 2; }
STEP=$(python -c "import json,sys; print(json.load(open(sys.argv[1]+'/manifest.json'))['graphs']['step']['file'])" "$BUNDLE")
case "$STEP" in
  *.engine|*.plan) SOURCE=(--loadEngine="$BUNDLE/$STEP") ;;
  *.onnx) SOURCE=(--onnx="$BUNDLE/$STEP" --fp16 --int8) ;;  # QDQ nodes in the ONNX decide what runs in int8
  *) echo "step graph $STEP is neither a TensorRT engine nor ONNX" >&2; exit 2 ;;
esac
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || cat /proc/device-tree/model 2>/dev/null || true
"$TRTEXEC" "${SOURCE[@]}" --warmUp=500 --iterations=50 --useCudaGraph --exportTimes="$OUT/trtexec-step.json" | tail -n 25
if python -c "import tensorrt" 2>/dev/null; then
  moebius-edge bench "$BUNDLE" --steps 20 --warmup 3 --out "$OUT"
else
  echo "the TensorRT Python package is not installed: skipping moebius-edge bench (trtexec numbers above)"
fi
