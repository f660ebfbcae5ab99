"""Writing ONNX files for the ONNX-based backends (ONNX Runtime, TensorRT): self-contained, under 2 GB."""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from edge_sdk.atomic_files import write_atomic
from edge_sdk.errors import ExportError

OPSET = 21  # GroupNorm stays one GroupNormalization node from opset 21 on
LEGACY_OPSET = 17  # the TorchScript exporter, which ModelOpt's Q/DQ modules export through
PROTOBUF_LIMIT = 2 * 1024**3


def onnx_bytes(program_or_module, args: tuple, input_names, output_names, *, opset: int = OPSET, legacy: bool = False) -> bytes:
    """One graph as a self-contained ONNX file's bytes (weights inline), with the bundle's tensor names.

    `legacy` uses the TorchScript exporter at LEGACY_OPSET instead of the dynamo one at `opset`."""
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as work:
        path = Path(work) / "graph.onnx"
        with torch.no_grad():
            if legacy:
                torch.onnx.export(
                    program_or_module, args, str(path), dynamo=False, opset_version=LEGACY_OPSET,
                    input_names=list(input_names), output_names=list(output_names), do_constant_folding=True,
                )
            else:
                torch.onnx.export(
                    program_or_module, args, dynamo=True, opset_version=opset, input_names=list(input_names),
                    output_names=list(output_names), external_data=False, optimize=True, verbose=False,
                ).save(str(path), external_data=False)
        size = path.stat().st_size
        if size >= PROTOBUF_LIMIT:
            raise ExportError(f"the graph would be {size / 1e9:.2f} GB, over the 2 GB a single ONNX file may hold")
        return path.read_bytes()


def write_file(path: Path, data: bytes) -> None:
    write_atomic(path, lambda temporary: temporary.write_bytes(data))
