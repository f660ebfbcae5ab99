"""Moebius Edge: on-device inpainting and object removal with the Moebius diffusion model.

The public names are imported lazily so `import edge_sdk` stays cheap; heavy toolchains
(ExecuTorch, Core ML, ONNX Runtime, ModelOpt) load only when a backend is used.
"""
from importlib import import_module

from edge_sdk.quiet_imports import quiet_third_party_imports

quiet_third_party_imports()

__version__ = "0.1.0"

_PUBLIC = {
    "MoebiusConfig": "edge_sdk.config",
    "MODEL_CONFIGS": "edge_sdk.config",
    "MoebiusDenoiser": "edge_sdk.model",
    "load_denoiser": "edge_sdk.checkpoint",
    "build_denoiser": "edge_sdk.checkpoint",
    "sample_latents": "edge_sdk.sampling",
    "InpaintPipeline": "edge_sdk.pipeline",
    "EdgeSDKError": "edge_sdk.errors",
    "load": "edge_sdk.bundle.inpaint_bundle",
    "batch": "edge_sdk.scaleout.batch",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edge_sdk' has no attribute {name!r}")


def __dir__():
    return __all__
