"""Graph rewrites that let XNNPACK take ops it would otherwise leave to ExecuTorch's portable kernels.

Each module holds one rewrite, written as an ATen decomposition: `DECOMPOSITIONS` maps an op to a function
that computes the same result from ops XNNPACK delegates (mean over the two inner dims, rsqrt, bmm,
slice, convolution, ...). A decomposition returns NotImplemented for a case it does not cover, which keeps
the original op. They run after quantization (see `export.py`), so the ops they introduce stay fp32.

Three more change the lowering itself, each a context manager active around `to_edge_transform_and_lower`:
`layout_round_trips_as_reshapes` (token ↔ map transposes inside the delegate become reshapes),
`half_conv_filters_stay_half` (the serializer keeps fp16 filters fp16) and `transient_indirection_buffers`
(convolutions fill their indirection buffers per run, in XNNPACK's shared workspace); the last two through
`convolution_visitor`. `shared_node_provenance`, around the whole lowering, changes only how long it takes
(torch.fx's record of where each node came from is shared instead of deep-copied; the `.pte` is the same).
Rewrites of the step graph's modules, before export, are in `edge_sdk/deploy/passes/`
with the other module rewrites.
"""
from __future__ import annotations

import torch

from edge_sdk.backends.executorch._passes import (
    attention_as_batched_matmul,
    channel_sum_as_convolution,
    chunk_as_slices,
    distinct_concatenation_inputs,
    division_by_one_dropped,
    group_norm_as_mean_ops,
    layer_norm_as_mean_ops,
    nearest_resize_as_convolution,
    repeat_as_broadcast,
    scalars_in_graph_dtype,
    silu_in_input_dtype,
)

REWRITES = (
    group_norm_as_mean_ops,
    layer_norm_as_mean_ops,
    channel_sum_as_convolution,
    nearest_resize_as_convolution,
    attention_as_batched_matmul,
    chunk_as_slices,
    repeat_as_broadcast,
    distinct_concatenation_inputs,
    division_by_one_dropped,
    scalars_in_graph_dtype,
    silu_in_input_dtype,
)


def decomposition_table(layout_round_trips: bool = False) -> dict:
    """Op → decomposition. Where several rewrites cover one op, the first in REWRITES that does not
    return NotImplemented decides. A rewrite may carry another form for graphs lowered with
    `layout_round_trips` (ROUND_TRIP_DECOMPOSITIONS)."""
    by_op: dict = {}
    for rewrite in REWRITES:
        table = getattr(rewrite, "ROUND_TRIP_DECOMPOSITIONS", rewrite.DECOMPOSITIONS) if layout_round_trips else rewrite.DECOMPOSITIONS
        for op, decomposition in table.items():
            by_op.setdefault(op, []).append(decomposition)
    return {op: decompositions[0] if len(decompositions) == 1 else _first_applicable(decompositions) for op, decompositions in by_op.items()}


def _first_applicable(decompositions: list):
    def decompose(*args, **kwargs):
        for decomposition in decompositions:
            result = decomposition(*args, **kwargs)
            if result is not NotImplemented:
                return result
        return NotImplemented

    return decompose


def make_delegable(program: torch.export.ExportedProgram, *, layout_round_trips: bool = False) -> torch.export.ExportedProgram:
    """Apply every rewrite to an exported program (ATen dialect, before `to_edge`), in the forms for a graph
    lowered with or without `layout_round_trips`.

    The rewrites build their constant operands (kernels of ones, fp16 scalars) with tensor ops; constant
    propagation turns those into stored constants, which XNNPACK requires of a convolution's weight. It must
    not fold a dequantize of int8 weights into fp32 ones, so quantization ops are skipped.
    """
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass

    decomposed = program.run_decompositions(decomposition_table(layout_round_trips))
    return constant_prop_pass(decomposed, custom_skip_targets=quantization_ops())


def quantization_ops() -> set:
    """Every overload of PT2E's quantize/dequantize ops (ATen level, where these rewrites run)."""
    import torchao.quantization.pt2e  # noqa: F401  (registers the quantized_decomposed ops)

    ops = set()
    for name in ("quantize_per_tensor", "dequantize_per_tensor", "quantize_per_channel", "dequantize_per_channel"):
        packet = getattr(torch.ops.quantized_decomposed, name)
        ops.update(getattr(packet, overload) for overload in packet.overloads())
    return ops
