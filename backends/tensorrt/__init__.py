"""TensorRT backend: strongly typed ONNX graphs (fp16, or int8 with explicit Q/DQ from nvidia-modelopt),
engines built with the tensorrt Python API where it imports, and a `trtexec` line for every graph."""
from __future__ import annotations

from pathlib import Path

from edge_sdk.backends.base import Backend, ProgramCache, importable, package_version, quiet


class TensorRTBackend(Backend):
    name = "tensorrt"
    precisions = ("fp16", "int8")
    suffix = ".onnx"
    vae_reason = "NVIDIA GPUs compute the VAE in fp16 natively; fp32 and int8 VAE graphs are built for ExecuTorch only"

    def vae_precisions(self, precision):
        return ("fp16",)

    def available(self):
        ok, why = importable("onnx")
        if ok:
            ok, why = importable("modelopt.torch.quantization")
        return ok, why

    def runtime_available(self):
        return False, "TensorRT engines run on NVIDIA GPUs; build them on the target with the manifest's trtexec lines"

    def toolchain_versions(self):
        versions = {name: package_version(name) for name in ("torch", "onnx", "nvidia-modelopt")}
        versions["tensorrt"] = package_version("tensorrt")
        return versions

    def export(self, graphs, precision, recipe=None, out_dir=None, *, programs=None, calibration_samples=None, vae_precision=None, progress=quiet):
        from edge_sdk.backends.tensorrt.export import export_graphs
        from edge_sdk.deploy.graph_contract import graph_signatures

        self.vae_precision(precision, vae_precision)  # only the default exists: refuse any other

        return export_graphs(
            graphs, precision, recipe, Path(out_dir), signatures=graph_signatures(graphs),
            programs=programs or ProgramCache(graphs), calibration=calibration_samples, progress=progress,
        )

    def open(self, bundle, *, load_in_turn: bool = False):
        from edge_sdk.backends.tensorrt.runner import open_tensorrt_bundle

        return open_tensorrt_bundle(bundle)
