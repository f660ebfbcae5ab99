"""ExecuTorch backend: `.pte` graphs delegated to XNNPACK (fp32, int8) or to Core ML (fp16, iOS/macOS)."""
from __future__ import annotations

from pathlib import Path

from edge_sdk.backends.base import Backend, ProgramCache, importable, package_version, quiet


class ExecuTorchBackend(Backend):
    suffix = ".pte"

    def __init__(self, delegate: str = "xnnpack"):
        self.delegate = delegate
        self.name = "executorch" if delegate == "xnnpack" else "executorch-coreml"
        self.precisions = ("fp32", "int8") if delegate == "xnnpack" else ("fp16",)
        # The C++ runtime blends decode tiles for XNNPACK bundles (Core ML ones run on Apple's devices only).
        self.tiled_decode = delegate == "xnnpack"
        if delegate == "coreml":
            self.vae_reason = "the Core ML delegate computes every graph in fp16"

    def vae_precisions(self, precision):
        if self.delegate == "coreml":
            return ("fp16",)
        # int8 bundles default to an fp16 VAE: the ARM phones and Apple devices they ship to compute fp16
        # natively. x86 has no fp16 arithmetic: there fp32 or int8 is faster (README, Backends and bundles).
        return ("fp16", "fp32", "int8") if precision == "int8" else ("fp32", "fp16", "int8")

    def available(self):
        ok, why = importable("executorch.exir")
        if ok and self.delegate == "coreml":
            ok, why = importable("executorch.backends.apple.coreml.partition")
        return ok, why

    def runtime_available(self):
        if self.delegate == "coreml":
            return False, (
                "the Core ML delegate runs only in an ExecuTorch runtime built for iOS or macOS "
                "(the Linux runtime has no CoreMLBackend)"
            )
        ok, why = importable("executorch.runtime")
        if not ok:
            return ok, why
        from executorch.runtime import Runtime

        if not Runtime.get().backend_registry.is_available("XnnpackBackend"):
            return False, "this ExecuTorch runtime has no XnnpackBackend"
        return True, ""

    def toolchain_versions(self):
        versions = {"torch": package_version("torch"), "executorch": package_version("executorch"), "torchao": package_version("torchao")}
        if self.delegate == "coreml":
            versions["coremltools"] = package_version("coremltools")
        return versions

    def export(self, graphs, precision, recipe=None, out_dir=None, *, programs=None, calibration_samples=None, vae_precision=None, progress=quiet):
        from edge_sdk.backends.executorch.export import export_graphs

        self.check_precision(precision)
        return export_graphs(
            graphs,
            precision,
            recipe,
            Path(out_dir),
            vae_precision=self.vae_precision(precision, vae_precision),
            delegate=self.delegate,
            programs=programs or ProgramCache(graphs),
            calibration=calibration_samples,
            progress=progress,
        )

    def open(self, bundle, *, load_in_turn: bool = False):
        from edge_sdk.backends.executorch.runner import ExecuTorchRunner
        from edge_sdk.errors import BackendUnavailableError

        ok, why = self.runtime_available()
        if not ok:
            raise BackendUnavailableError(f"cannot run this {self.name} bundle here: {why}")
        return ExecuTorchRunner(bundle, load_in_turn=load_in_turn)
