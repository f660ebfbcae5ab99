"""Writing ONNX files for the ONNX-based backends (ONNX Runtime, TensorRT): self-contained, under 2 GB."""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from edge_sdk.bundle.errors import ExportError

OPSET = 21  # GroupNorm stays one GroupNormalization node from opset 21 on
PROTOBUF_LIMIT = 2 * 1024**3


def onnx_bytes(program_or_module, args: tuple, input_names, output_names, opset: int = OPSET) -> bytes:
    """One graph as a self-contained ONNX file's bytes (weights inline), with the bundle's tensor names."""
    onnx_program = torch.onnx.export(
        program_or_module,
        args,
        dynamo=True,
        opset_version=opset,
        input_names=list(input_names),
        output_names=list(output_names),
        external_data=False,
        optimize=True,
        verbose=False,
    )
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as work:
        path = Path(work) / "graph.onnx"
        onnx_program.save(str(path), external_data=False)
        size = path.stat().st_size
        if size >= PROTOBUF_LIMIT:
            raise ExportError(f"the graph would be {size / 1e9:.2f} GB, over the 2 GB a single ONNX file may hold")
        return path.read_bytes()


def write_file(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
