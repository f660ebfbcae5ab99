"""TensorRT export: ONNX graphs for a strongly typed TensorRT network, plus engines where `tensorrt` imports.

- fp16: every graph in fp16 (the step keeps the deploy graphs' fp32 islands), fp32 at the inputs/outputs.
- int8: explicit quantization: the step graph carries Q/DQ pairs (symmetric int8, zero point 0) made by
  nvidia-modelopt from the recipe (`quantize.py`); the VAE graphs are fp16. TensorRT 10 deprecated and 11
  removed implicit (calibrator) int8, so precision lives in the ONNX types and Q/DQ nodes, and the engine is
  built strongly typed.

The ONNX files use the TorchScript-based exporter (`dynamo=False`) at opset 17: ModelOpt's fake-quant
modules export through it as QuantizeLinear/DequantizeLinear, and it is what TensorRT's parser sees most.
"""
from __future__ import annotations

import copy
import shlex
import time
from pathlib import Path

import torch

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.backends.graphs import HalfPrecisionGraph, half_step
from edge_sdk.bundle.manifest import GRAPH_SIGNATURES

GRAPH_NAMES = ("encode", "step", "decode")
OPSET = 17
TIMING_CACHE = "timing.cache"


def io_names(graphs, name: str) -> tuple[list[str], list[str]]:
    inputs, outputs = GRAPH_SIGNATURES[name]
    outputs = list(outputs)
    if name == "encode" and not graphs.schedule.starts_from_noise:
        outputs.append("clean_latents")
    return list(inputs), outputs


def export_legacy_onnx(module: torch.nn.Module, args: tuple, path: Path, input_names, output_names) -> None:
    partial = path.with_name(path.name + ".partial")
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(partial),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(input_names),
            output_names=list(output_names),
            do_constant_folding=True,
        )
    partial.replace(path)


def shape_argument(specs: list[dict]) -> str:
    return ",".join(f"{spec['name']}:{'x'.join(str(d) for d in spec['shape'])}" for spec in specs)


def trtexec_command(onnx_file: str, engine_file: str, input_specs: list[dict]) -> str:
    """The trtexec line that builds the same engine on the target (e.g. a Jetson): strongly typed (the ONNX
    types and Q/DQ nodes decide precision), a timing cache, and one profile pinned to the static shapes."""
    shapes = shape_argument(input_specs)
    return " ".join(
        [
            "trtexec",
            f"--onnx={shlex.quote(onnx_file)}",
            f"--saveEngine={shlex.quote(engine_file)}",
            "--stronglyTyped",
            f"--timingCacheFile={TIMING_CACHE}",
            f"--minShapes={shapes}",
            f"--optShapes={shapes}",
            f"--maxShapes={shapes}",
        ]
    )


def export_graphs(graphs, precision: str, recipe, out_dir: Path, *, signatures: dict, programs: ProgramCache, calibration, progress: Progress) -> ExportResult:
    inputs = graphs.example_inputs()
    modules = {"encode": HalfPrecisionGraph(graphs.encode), "decode": HalfPrecisionGraph(graphs.decode)}
    details: dict = {"opset": OPSET, "exporter": "torch.onnx.export(dynamo=False)"}
    seconds = {}
    if precision == "int8":
        from edge_sdk.backends.tensorrt.quantize import modelopt_step

        start = time.perf_counter()
        progress("step: inserting Q/DQ with nvidia-modelopt from the recipe")
        modules["step"], details["quantization"] = modelopt_step(copy.deepcopy(graphs.step).eval(), recipe, inputs["step"], calibration)
        seconds["quantize_step"] = time.perf_counter() - start
        graph_precisions = {"encode": "fp16", "step": "int8", "decode": "fp16"}
    else:
        modules["step"] = half_step(graphs.step)
        graph_precisions = {name: "fp16" for name in GRAPH_NAMES}

    files, commands = {}, {}
    for name in GRAPH_NAMES:
        start = time.perf_counter()
        progress(f"{name}: exporting ONNX for TensorRT (opset {OPSET})")
        files[name] = f"{name}.onnx"
        names_in, names_out = io_names(graphs, name)
        export_legacy_onnx(modules[name], inputs[name], out_dir / files[name], names_in, names_out)
        commands[name] = trtexec_command(files[name], f"{name}.engine", signatures[name]["inputs"])
        seconds[f"onnx_{name}"] = time.perf_counter() - start
        progress(f"{name}: on the target, build the engine with:\n    {commands[name]}")
    details["trtexec"] = commands
    extra = []
    from edge_sdk.backends.base import importable

    ok, why = importable("tensorrt")
    if ok:
        from edge_sdk.backends.tensorrt.engine import build_engine

        for name in GRAPH_NAMES:
            progress(f"{name}: building the TensorRT engine")
            build_engine(out_dir / files[name], out_dir / f"{name}.engine", out_dir / TIMING_CACHE, signatures[name]["inputs"])
            extra.append(f"{name}.engine")
        extra.append(TIMING_CACHE)
        details["engines"] = "built with the tensorrt Python API on the exporting machine"
    else:
        details["engines"] = f"not built here ({why}); use the trtexec lines on the target"
    return ExportResult(files=files, graph_precisions=graph_precisions, details=details, extra_files=extra, seconds=seconds)
