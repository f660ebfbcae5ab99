"""Backend names → implementations, imported only when asked for (heavy toolchains load lazily)."""
from __future__ import annotations

import importlib

from edge_sdk.errors import ExportError

# name → (module, class, constructor keyword arguments)
BACKENDS = {
    "executorch": ("edge_sdk.backends.executorch", "ExecuTorchBackend", {}),
    "executorch-coreml": ("edge_sdk.backends.executorch", "ExecuTorchBackend", {"delegate": "coreml"}),
    "coreml": ("edge_sdk.backends.coreml", "CoreMLBackend", {}),
    "tensorrt": ("edge_sdk.backends.tensorrt", "TensorRTBackend", {}),
    "onnxruntime": ("edge_sdk.backends.onnxruntime", "OnnxRuntimeBackend", {}),
}
# Former names, still accepted: bundles and command lines written with them keep working.
ALIASES = {"onnx": "onnxruntime"}


def backend_names() -> list[str]:
    return list(BACKENDS)


def canonical_name(name: str) -> str:
    """The backend's current name for `name` (itself, or what an alias stands for)."""
    return ALIASES.get(name, name)


def is_known(name: str) -> bool:
    return canonical_name(name) in BACKENDS


def get_backend(name: str):
    name = canonical_name(name)
    if name not in BACKENDS:
        raise ExportError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    module, cls, kwargs = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(**kwargs)
