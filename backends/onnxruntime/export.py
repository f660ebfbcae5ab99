"""ONNX export for ONNX Runtime (and onnxruntime-web): each graph → one self-contained `.onnx` file.

fp32: `torch.onnx.export` (the dynamo exporter, opset 21 so GroupNorm stays one GroupNormalization node) of
the exported programs every backend shares. int8: the fp32 step file quantized by ONNX Runtime's own
`quantize_static` (see `quantize.py`); the VAE graphs stay fp32. Each file holds its weights inline and must
stay under protobuf's 2 GB limit, so it loads in a browser with no side files.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.backends.onnx_files import OPSET, onnx_bytes, write_file
from edge_sdk.deploy.graph_contract import GRAPH_NAMES, io_names


def export_graphs(graphs, precision: str, recipe, out_dir: Path, *, programs: ProgramCache, calibration, progress: Progress) -> ExportResult:
    inputs = graphs.example_inputs()
    files, seconds = {}, {}
    for name in GRAPH_NAMES:
        start = time.perf_counter()
        progress(f"{name}: exporting to ONNX (opset {OPSET})")
        files[name] = f"{name}.onnx"
        names_in, names_out = io_names(graphs, name)
        # fp32 and int8 bundles start from the same fp32 files: convert once per ProgramCache.
        data = programs.memo(("onnx", name), lambda: onnx_bytes(programs.program(name), inputs[name], names_in, names_out))
        write_file(out_dir / files[name], data)
        seconds[f"onnx_{name}"] = time.perf_counter() - start
    graph_precisions = {name: "fp32" for name in GRAPH_NAMES}
    details = {"opset": OPSET, "providers": ["CUDAExecutionProvider (where present)", "CPUExecutionProvider"]}
    if precision == "int8":
        from edge_sdk.backends.onnxruntime.quantize import quantize_step_file

        start = time.perf_counter()
        progress("step: quantizing with onnxruntime.quantization.quantize_static (QDQ, symmetric int8)")
        details["quantization"] = quantize_step_file(out_dir / files["step"], recipe, progress=progress)
        graph_precisions["step"] = "int8"
        seconds["quantize_step"] = time.perf_counter() - start
    return ExportResult(files=files, graph_precisions=graph_precisions, details=details, seconds=seconds)
