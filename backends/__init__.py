"""Export back-ends: ExecuTorch (XNNPACK, and the Core ML delegate), Core ML, TensorRT and ONNX Runtime.

All implement `edge_sdk.backends.base.Backend`; `get_backend(name)` imports one on demand, so importing
this package loads no toolchain.
"""
from edge_sdk.backends.registry import BACKENDS, backend_names, get_backend

__all__ = ["BACKENDS", "backend_names", "get_backend"]
