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
from edge_sdk.bundle.errors import ExportError
from edge_sdk.bundle.manifest import GRAPH_SIGNATURES

GRAPH_NAMES = ("encode", "step", "decode")
OPSET = 21
PROTOBUF_LIMIT = 2 * 1024**3


def io_names(graphs, name: str) -> tuple[list[str], list[str]]:
    inputs, outputs = GRAPH_SIGNATURES[name]
    outputs = list(outputs)
    if name == "encode" and not graphs.schedule.starts_from_noise:
        outputs.append("clean_latents")
    return list(inputs), outputs


def export_onnx(program_or_module, args: tuple, path: Path, input_names, output_names) -> None:
    """One graph to one `.onnx` file (weights inline), written under a temporary name first."""
    partial = path.with_name(path.name + ".partial")
    onnx_program = torch.onnx.export(
        program_or_module,
        args,
        dynamo=True,
        opset_version=OPSET,
        input_names=list(input_names),
        output_names=list(output_names),
        external_data=False,
        optimize=True,
        verbose=False,
    )
    onnx_program.save(str(partial), external_data=False)
    size = partial.stat().st_size
    if size >= PROTOBUF_LIMIT:
        partial.unlink()
        raise ExportError(f"{path.name} would be {size / 1e9:.2f} GB, over the 2 GB a single ONNX file may hold")
    partial.replace(path)


def export_graphs(graphs, precision: str, recipe, out_dir: Path, *, programs: ProgramCache, calibration, progress: Progress) -> ExportResult:
    inputs = graphs.example_inputs()
    files, seconds = {}, {}
    for name in GRAPH_NAMES:
        start = time.perf_counter()
        progress(f"{name}: exporting to ONNX (opset {OPSET})")
        files[name] = f"{name}.onnx"
        names_in, names_out = io_names(graphs, name)
        export_onnx(programs.program(name), inputs[name], out_dir / files[name], names_in, names_out)
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
