"""TensorRT export: ONNX graphs for a strongly typed TensorRT network, plus engines where `tensorrt` imports.

- fp16: every graph in fp16 (the step keeps the deploy graphs' fp32 islands), fp32 at the inputs/outputs.
- int8: explicit quantization: the step graph carries Q/DQ pairs (symmetric int8, zero point 0) made by
  nvidia-modelopt from the recipe (`quantize.py`); the VAE graphs are fp16. TensorRT 10 deprecated and 11
  removed implicit (calibrator) int8, so precision lives in the ONNX types and Q/DQ nodes, and the engine is
  built strongly typed.

The fp16 graphs go through the dynamo exporter at opset 18 (shared with the other backends' exported
programs); the ModelOpt int8 step through the TorchScript-based exporter (`dynamo=False`, opset 17), the
path ModelOpt's fake-quant modules export through as QuantizeLinear/DequantizeLinear (the dynamo exporter
trips on a data-dependent check inside ModelOpt).
"""
from __future__ import annotations

import copy
import shlex
import time
from pathlib import Path

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.backends.graphs import half_step
from edge_sdk.backends.onnx_files import LEGACY_OPSET, onnx_bytes, write_file
from edge_sdk.deploy.graph_contract import GRAPH_NAMES, io_names

OPSET = 18  # dynamo exporter (fp16 graphs)
TIMING_CACHE = "timing.cache"


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
    details: dict = {"opset": {"fp16 graphs": OPSET, "int8 step": LEGACY_OPSET}}
    seconds, onnx = {}, {}

    def fp16_file(name: str) -> bytes:
        names_in, names_out = io_names(graphs, name)
        if name == "step":
            build = lambda: onnx_bytes(half_step(graphs.step), inputs[name], names_in, names_out, opset=OPSET)  # noqa: E731
        else:
            build = lambda: onnx_bytes(programs.half_program(name), inputs[name], names_in, names_out, opset=OPSET)  # noqa: E731
        return programs.memo(("onnx-fp16", name), build)

    graph_precisions = {name: "fp16" for name in GRAPH_NAMES}
    if precision == "int8":
        from edge_sdk.backends.tensorrt.quantize import modelopt_step

        start = time.perf_counter()
        progress("step: inserting Q/DQ with nvidia-modelopt from the recipe")
        step, details["quantization"] = modelopt_step(copy.deepcopy(graphs.step).eval(), recipe, inputs["step"], calibration)
        names_in, names_out = io_names(graphs, "step")
        onnx["step"] = onnx_bytes(step, inputs["step"], names_in, names_out, legacy=True)
        graph_precisions["step"] = "int8"
        seconds["quantize_step"] = time.perf_counter() - start
    for name in GRAPH_NAMES:
        if name not in onnx:
            start = time.perf_counter()
            progress(f"{name}: exporting fp16 ONNX (opset {OPSET})")
            onnx[name] = fp16_file(name)
            seconds[f"onnx_{name}"] = time.perf_counter() - start

    files, commands = {}, {}
    for name in GRAPH_NAMES:
        files[name] = f"{name}.onnx"
        write_file(out_dir / files[name], onnx[name])
        commands[name] = trtexec_command(files[name], f"{name}.engine", signatures[name]["inputs"])
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
