#!/usr/bin/env bash
# Core ML bundles on a Mac: `moebius-edge bench` runs them there (coremltools predict needs macOS).
#
#   benchmarks/devices/coreml_mac.sh OUT_DIR BUNDLE [BUNDLE ...]
#
# Run from a checkout with the package installed (pip install -e .); the same run measures PyTorch eager
# fp32 on the Mac's CPU as the reference. For an Apple-silicon GPU reference, see gpu_reference.py --device mps.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n 2,8p "$0"; exit 2; fi
[ "$(uname -s)" = Darwin ] || { echo "Core ML runs only on macOS" >&2; exit 2; }
OUT=$1; shift
sysctl -n machdep.cpu.brand_string
moebius-edge bench "$@" --steps 10 --warmup 2 --out "$OUT"
