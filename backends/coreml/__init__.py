"""Core ML backend: `.mlpackage` ML programs in fp16, with int8 weights (w8), or W8A8 (int8)."""
from __future__ import annotations

import sys
from pathlib import Path

from edge_sdk.backends.base import Backend, ProgramCache, importable, package_version, quiet


class CoreMLBackend(Backend):
    name = "coreml"
    precisions = ("fp16", "w8", "int8")
    suffix = ".mlpackage"
    vae_reason = "Core ML bundles compute every graph in fp16 (with int8 weights in w8 bundles); int8 VAE graphs are built for ExecuTorch only"

    def vae_precisions(self, precision):
        return ("w8",) if precision == "w8" else ("fp16",)

    def available(self):
        return importable("coremltools")

    def runtime_available(self):
        if sys.platform != "darwin":
            return False, "Core ML runs ML programs only on macOS/iOS (coremltools prediction is macOS-only)"
        return importable("coremltools")

    def toolchain_versions(self):
        return {name: package_version(name) for name in ("torch", "coremltools", "torchao")}

    def export(self, graphs, precision, recipe=None, out_dir=None, *, programs=None, calibration_samples=None, vae_precision=None, progress=quiet):
        from edge_sdk.backends.coreml.export import export_graphs

        self.vae_precision(precision, vae_precision)  # only the default exists: refuse any other

        return export_graphs(graphs, precision, recipe, Path(out_dir), programs=programs or ProgramCache(graphs), calibration=calibration_samples, progress=progress)

    def open(self, bundle, *, load_in_turn: bool = False):
        from edge_sdk.backends.coreml.runner import CoreMLRunner

        return CoreMLRunner(bundle, load_in_turn=load_in_turn)
