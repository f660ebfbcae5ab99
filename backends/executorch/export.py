"""ExecuTorch export: each graph → `torch.export` → delegate rewrites → `to_edge_transform_and_lower` → `.pte`.

- XNNPACK (`executorch`): fp32 graphs; int8 bundles have an int8 step (PT2E with the calibration recipe, see
  `quantize.py`) and fp16 VAE graphs, their convolution filters stored in fp16
  (`_passes/half_conv_filters_stay_half.py`). The step's time projections are folded into a table first
  (exact; see `edge_sdk/deploy/passes/fold_time_projections.py`).
- Core ML delegate (`executorch-coreml`): the same fp32 graphs lowered to Core ML in fp16 for iOS/macOS. It
  exports on Linux; only an Apple build of the runtime can run it.
"""
from __future__ import annotations

import contextlib
import copy
import time
from pathlib import Path

import torch
from torch import nn

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.backends.executorch._passes import make_delegable
from edge_sdk.backends.executorch._passes.half_conv_filters_stay_half import half_conv_filters
from edge_sdk.backends.executorch._passes.layout_round_trips_as_reshapes import without_layout_round_trips
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.deploy.passes.fold_time_projections import fold_time_projections

SUFFIX = ".pte"


def step_with_time_table(graphs) -> tuple[nn.Module, list[str]]:
    """A copy of the step graph with its time projections folded (the deploy graphs are left untouched)."""
    step = copy.deepcopy(graphs.step).eval()
    return step, fold_time_projections(step)


def delegation_summary(edge_program) -> dict:
    """Delegated vs portable-kernel ops of a lowered program (ExecuTorch's own delegation report)."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge_program.graph_module)
    # getitem only unpacks a tuple (a delegate's or a multi-output op's results): not a kernel.
    portable = {
        op: breakdown.non_delegated
        for op, breakdown in sorted(info.delegation_by_operator.items())
        if breakdown.non_delegated and op != "getitem"
    }
    return {
        "delegated_subgraphs": info.num_delegated_subgraphs,
        "delegated_ops": info.num_delegated_nodes,
        "portable_ops": sum(portable.values()),
        "portable_by_op": portable,
    }


def partitioner_for(delegate: str):
    if delegate == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return XnnpackPartitioner()
    import coremltools as ct
    from executorch.backends.apple.coreml.compiler import CoreMLBackend
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    specs = CoreMLBackend.generate_compile_specs(
        minimum_deployment_target=ct.target.iOS18, compute_precision=ct.precision.FLOAT16
    )
    return CoreMLPartitioner(compile_specs=specs)


# Graphs lowered with `without_layout_round_trips`: the step, whose LλMI blocks switch between tokens and maps.
# The VAE graphs keep XNNPACK's own layout copies: they have few round trips, and with the reshapes
# XNNPACK 1.5.1's runtime rejected the hole-filling encode graph ("Propagating input shapes failed").
ROUND_TRIP_GRAPHS = ("step",)


@contextlib.contextmanager
def xnnpack_serialization(layout_round_trips: bool = True):
    """Our changes to how XNNPACK lowers a program: fp16 filters kept fp16, and (for the step graph) no
    token ↔ map transposes."""
    with half_conv_filters(), without_layout_round_trips() if layout_round_trips else contextlib.nullcontext():
        yield


def lower_to_file(program: torch.export.ExportedProgram, delegate: str, path: Path, *, layout_round_trips: bool = True) -> dict:
    """Lower one exported program and write the `.pte`; returns its delegation summary. `layout_round_trips`:
    whether XNNPACK's token ↔ map transpose pairs become reshapes (see ROUND_TRIP_GRAPHS)."""
    # Registers the out variants of the quantize/dequantize ops an int8 graph keeps outside the delegate
    # (its int8 position tables); without them `to_executorch` stops at "Missing out variants".
    import executorch.kernels.quantized  # noqa: F401
    from executorch.exir import to_edge_transform_and_lower

    if delegate == "xnnpack":
        program = make_delegable(program)
    with xnnpack_serialization(layout_round_trips) if delegate == "xnnpack" else contextlib.nullcontext():
        edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for(delegate)])
    summary = delegation_summary(edge.exported_program())
    executorch_program = edge.to_executorch()
    with open(path, "wb") as handle:
        executorch_program.write_to_file(handle)
    return summary


def export_graphs(
    graphs,
    precision: str,
    recipe,
    out_dir: Path,
    *,
    delegate: str,
    programs: ProgramCache,
    calibration,
    progress: Progress,
) -> ExportResult:
    inputs = graphs.example_inputs()
    exported: dict[str, torch.export.ExportedProgram] = {}
    details: dict = {"delegate": delegate}
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    step, folded = step_with_time_table(graphs)
    details["folded_time_projections"] = len(folded)
    if precision == "int8":
        from edge_sdk.backends.executorch.quantize import quantized_step_program

        progress("step: quantizing with the recipe (PT2E, XNNPACK int8 configs)")
        exported["step"], quantization = quantized_step_program(step, folded, recipe, inputs["step"], calibration)
        details["quantization"] = quantization
        graph_precisions = {"encode": "fp16", "step": "int8", "decode": "fp16"}
        for name in ("encode", "decode"):
            progress(f"{name}: exporting in fp16")
            exported[name] = programs.half_program(name)
    else:
        graph_precisions = {name: precision for name in GRAPH_NAMES}
        progress("step: exporting (time projections folded into a table)")
        with torch.no_grad():
            exported["step"] = torch.export.export(step, inputs["step"])
        for name in ("encode", "decode"):
            progress(f"{name}: exporting")
            exported[name] = programs.program(name)
    seconds["torch_export"] = time.perf_counter() - start

    files, delegation = {}, {}
    for name in GRAPH_NAMES:
        start = time.perf_counter()
        progress(f"{name}: lowering to {delegate}")
        files[name] = f"{name}{SUFFIX}"
        delegation[name] = lower_to_file(
            exported.pop(name), delegate, out_dir / files[name], layout_round_trips=name in ROUND_TRIP_GRAPHS
        )
        seconds[f"lower_{name}"] = time.perf_counter() - start
        summary = delegation[name]
        progress(
            f"{name}: {summary['delegated_ops']} ops in {summary['delegated_subgraphs']} {delegate} subgraphs, "
            f"{summary['portable_ops']} on portable kernels"
        )
    details["delegation"] = delegation
    return ExportResult(files=files, graph_precisions=graph_precisions, details=details, seconds=seconds)
