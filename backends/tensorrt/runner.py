"""TensorRT bundles run on NVIDIA GPUs; this SDK does not drive TensorRT engines from Python."""
from __future__ import annotations

from edge_sdk.errors import BackendUnavailableError


def open_tensorrt_bundle(bundle):
    commands = (bundle.manifest.backend_details or {}).get("trtexec", {})
    example = commands.get("step", "trtexec --onnx=step.onnx --stronglyTyped ...")
    raise BackendUnavailableError(
        "TensorRT bundles run on an NVIDIA GPU or Jetson with TensorRT 10+: build each engine there "
        f"(e.g. `{example}`, all lines in `moebius-edge info {bundle.path}`); the Python runner here covers "
        "ExecuTorch and ONNX Runtime bundles (the ONNX files of this bundle also run in ONNX Runtime for checks)"
    )
