"""Graph rewrites that let XNNPACK take ops it would otherwise leave to ExecuTorch's portable kernels.

Each module holds one rewrite, written as an ATen decomposition: `DECOMPOSITIONS` maps an op to a function
that computes the same result from ops XNNPACK delegates (mean over the two inner dims, rsqrt, bmm,
slice, convolution, ...). A decomposition returns NotImplemented for a case it does not cover, which keeps
the original op. They run after quantization (see `export.py`), so the ops they introduce stay fp32.
"""
from __future__ import annotations

import torch

from edge_sdk.backends.executorch._passes import (
    attention_as_batched_matmul,
    chunk_as_slices,
    distinct_concatenation_inputs,
    group_norm_as_mean_ops,
    integer_scalars_as_float,
    layer_norm_as_mean_ops,
    nearest_resize_as_convolution,
    repeat_as_broadcast,
)

REWRITES = (
    group_norm_as_mean_ops,
    layer_norm_as_mean_ops,
    nearest_resize_as_convolution,
    attention_as_batched_matmul,
    chunk_as_slices,
    repeat_as_broadcast,
    distinct_concatenation_inputs,
    integer_scalars_as_float,
)


def decomposition_table() -> dict:
    table = {}
    for rewrite in REWRITES:
        table.update(rewrite.DECOMPOSITIONS)
    return table


def make_delegable(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Apply every rewrite to an exported program (ATen dialect, before `to_edge`).

    The rewrites build their constant operands (kernels of ones) with tensor ops; constant propagation
    turns those into stored weights, which XNNPACK requires of a convolution.
    """
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass

    return constant_prop_pass(program.run_decompositions(decomposition_table()))
