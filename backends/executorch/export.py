"""ExecuTorch export: each graph → `torch.export` → delegate rewrites → `to_edge_transform_and_lower` → `.pte`.

- XNNPACK (`executorch`): an fp32 or int8 step (int8: PT2E with the calibration recipe, see `quantize.py`);
  VAE graphs (encode, decode) in the bundle's VAE precision: fp32; fp16, their convolution filters stored in
  fp16 (`_passes/half_conv_filters_stay_half.py`); or static int8 (`quantize.quantized_vae_programs`). The
  step's time projections are folded into a table first (exact; see
  `edge_sdk/deploy/passes/fold_time_projections.py`).
- Core ML delegate (`executorch-coreml`): the same fp32 graphs lowered to Core ML in fp16 for iOS/macOS. It
  exports on Linux; only an Apple build of the runtime can run it.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import time
from pathlib import Path

import torch
from torch import nn

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.backends.executorch._passes import make_delegable
from edge_sdk.backends.executorch._passes.half_conv_filters_stay_half import half_conv_filters
from edge_sdk.backends.executorch._passes.layout_round_trips_as_reshapes import without_layout_round_trips
from edge_sdk.backends.executorch._passes.shared_node_provenance import shared_node_provenance
from edge_sdk.backends.executorch._passes.transient_indirection_buffers import transient_indirection_buffers
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.deploy.passes.fold_time_projections import fold_time_projections
from edge_sdk.deploy.vae_precision import vae_graph_precisions

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
    """Our changes to how XNNPACK lowers a program: fp16 filters kept fp16, convolutions' indirection buffers
    built per run in the shared workspace, and (for the step graph) no token ↔ map transposes."""
    with (
        half_conv_filters(),
        transient_indirection_buffers(),
        without_layout_round_trips() if layout_round_trips else contextlib.nullcontext(),
    ):
        yield


def lowered(program: torch.export.ExportedProgram, delegate: str, *, layout_round_trips: bool = True) -> tuple[bytes, dict]:
    """One exported program lowered: (the `.pte` bytes, its delegation summary). `layout_round_trips`: whether
    XNNPACK's token ↔ map transpose pairs become reshapes (see ROUND_TRIP_GRAPHS)."""
    # Registers the out variants of the quantize/dequantize ops an int8 graph keeps outside the delegate
    # (its int8 position tables); without them `to_executorch` stops at "Missing out variants".
    import executorch.kernels.quantized  # noqa: F401
    from executorch.exir import to_edge_transform_and_lower

    with shared_node_provenance():
        if delegate == "xnnpack":
            program = make_delegable(program, layout_round_trips=layout_round_trips)
        with xnnpack_serialization(layout_round_trips) if delegate == "xnnpack" else contextlib.nullcontext():
            edge = to_edge_transform_and_lower(program, partitioner=[partitioner_for(delegate)])
        summary = delegation_summary(edge.exported_program())
        return edge.to_executorch().buffer, summary


def lower_to_file(program: torch.export.ExportedProgram, delegate: str, path: Path, *, layout_round_trips: bool = True) -> dict:
    """Lower one exported program and write the `.pte`; returns its delegation summary."""
    data, summary = lowered(program, delegate, layout_round_trips=layout_round_trips)
    Path(path).write_bytes(data)
    return summary


def vae_program(graphs, name: str, graph_precision: str, delegate: str, programs: ProgramCache, progress: Progress) -> tuple:
    """(ExportedProgram of the VAE graph `name` in `graph_precision`, manifest details)."""
    if graph_precision == "int8":
        from edge_sdk.backends.executorch.quantize import quantized_vae_programs

        if ("int8-vae",) not in programs:
            progress("encode, decode: quantizing to int8 (PT2E, XNNPACK int8 configs, calibrated on the bundled photos)")
        # One calibration for both graphs, kept like the float programs for other bundles of the same graphs.
        int8, summary = programs.memo(("int8-vae",), lambda: quantized_vae_programs(graphs))
        return int8[name], {"vae_quantization": summary}
    # The Core ML delegate takes the fp32 programs and computes them in fp16 itself.
    half = graph_precision == "fp16" and delegate == "xnnpack"
    progress(f"{name}: exporting" + (" in fp16" if half else ""))
    return (programs.half_program(name) if half else programs.program(name)), {}


def step_program(graphs, precision: str, recipe, calibration, progress: Progress) -> tuple:
    """(ExportedProgram of the step graph in `precision`, manifest details)."""
    step, folded = step_with_time_table(graphs)
    details: dict = {"folded_time_projections": len(folded)}
    inputs = graphs.example_inputs()["step"]
    if precision == "int8":
        from edge_sdk.backends.executorch.quantize import quantized_step_program

        progress("step: quantizing with the recipe (PT2E, XNNPACK int8 configs)")
        program, details["quantization"] = quantized_step_program(step, folded, recipe, inputs, calibration)
        return program, details
    progress("step: exporting (time projections folded into a table)")
    with torch.no_grad():
        return torch.export.export(step, inputs), details


def lowering_key(name: str, graph_precision: str, delegate: str, recipe, calibration):
    """What determines a graph's `.pte` among a ProgramCache's bundles (its graphs are fixed), or None when it
    is not worth keeping: an int8 step calibrated on samples given for this export."""
    if name != "step" or graph_precision != "int8":
        return ("pte", delegate, name, graph_precision)
    if calibration is not None or recipe is None:  # (without a recipe, the export stops with its error)
        return None
    recipe_digest = hashlib.sha256(json.dumps(recipe.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return ("pte", delegate, name, graph_precision, f"recipe {recipe_digest}")


def export_graphs(
    graphs,
    precision: str,
    recipe,
    out_dir: Path,
    *,
    vae_precision: str,
    delegate: str,
    programs: ProgramCache,
    calibration,
    progress: Progress,
) -> ExportResult:
    details: dict = {"delegate": delegate}
    seconds: dict[str, float] = {}
    vae = vae_graph_precisions(vae_precision)
    graph_precisions = {"encode": vae["encode"], "step": precision, "decode": vae["decode"]}
    files, delegation = {}, {}
    for name in GRAPH_NAMES:

        def build(name=name):
            start = time.perf_counter()
            if name == "step":
                program, graph_details = step_program(graphs, precision, recipe, calibration, progress)
            else:
                program, graph_details = vae_program(graphs, name, graph_precisions[name], delegate, programs, progress)
            exported = time.perf_counter()
            progress(f"{name}: lowering to {delegate}")
            data, summary = lowered(program, delegate, layout_round_trips=name in ROUND_TRIP_GRAPHS)
            timing = {f"export_{name}": exported - start, f"lower_{name}": time.perf_counter() - exported}
            return data, summary, graph_details, timing

        # A graph two bundles of one ProgramCache share (the int8 step of an int8 bundle with another VAE, a
        # VAE of the same precision) is exported and lowered once.
        key = lowering_key(name, graph_precisions[name], delegate, recipe, calibration)
        data, delegation[name], graph_details, timing = build() if key is None else programs.memo(key, build)
        files[name] = f"{name}{SUFFIX}"
        (out_dir / files[name]).write_bytes(data)
        details.update(graph_details)
        seconds.update(timing)
        summary = delegation[name]
        progress(
            f"{name}: {summary['delegated_ops']} ops in {summary['delegated_subgraphs']} {delegate} subgraphs, "
            f"{summary['portable_ops']} on portable kernels"
        )
    details["delegation"] = delegation
    return ExportResult(files=files, graph_precisions=graph_precisions, details=details, seconds=seconds)
