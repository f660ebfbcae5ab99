"""ONNX Runtime backend: fp32 and int8 (static QDQ) `.onnx` graphs; CPU here, CUDA where present.

The same files are the browser bundle for onnxruntime-web (each under 2 GB, weights inline).
"""
from __future__ import annotations

from pathlib import Path

from edge_sdk.backends.base import Backend, ProgramCache, importable, package_version, quiet


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"  # earlier bundles say "onnx": registry.ALIASES maps it here
    precisions = ("fp32", "int8")
    suffix = ".onnx"
    vae_reason = "ONNX Runtime bundles keep the VAE in fp32 (its CPU kernels compute fp32); int8 VAE graphs are built for ExecuTorch only so far"

    def vae_precisions(self, precision):
        return ("fp32",)

    def available(self):
        for module in ("onnx", "onnxscript", "onnxruntime"):
            ok, why = importable(module)
            if not ok:
                return ok, why
        return True, ""

    def runtime_available(self):
        return importable("onnxruntime")

    def toolchain_versions(self):
        return {name: package_version(name) for name in ("torch", "onnx", "onnxscript", "onnxruntime")}

    def export(self, graphs, precision, recipe=None, out_dir=None, *, programs=None, calibration_samples=None, vae_precision=None, progress=quiet):
        from edge_sdk.backends.onnxruntime.export import export_graphs

        self.vae_precision(precision, vae_precision)  # only the default exists: refuse any other

        return export_graphs(graphs, precision, recipe, Path(out_dir), programs=programs or ProgramCache(graphs), calibration=calibration_samples, progress=progress)

    def open(self, bundle, *, load_in_turn: bool = False):
        from edge_sdk.backends.onnxruntime.runner import OnnxRuntimeRunner
        from edge_sdk.errors import BackendUnavailableError

        ok, why = self.runtime_available()
        if not ok:
            raise BackendUnavailableError(f"cannot run this ONNX bundle here: {why}")
        return OnnxRuntimeRunner(bundle, load_in_turn=load_in_turn)
