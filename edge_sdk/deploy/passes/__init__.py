"""Graph-rewrite passes for deployment, one per module, each exact up to float rounding.

They work on `nn.Module` trees (swapping submodules), so the rewritten denoiser stays readable and
exports with `torch.export`. `optimize_step_denoiser` applies the `PASSES` to a copy: every backend's graphs.

A backend may apply two more to its own copy of the step graph (the ExecuTorch backend does):
`fold_time_projections` (exact) and `position_tables_as_int8` (weight-only int8 storage, within int8 rounding).
Rewrites of an exported graph for one runtime's compiler are in that backend's `_passes/`.
"""
from __future__ import annotations

import copy

from torch import nn

from edge_sdk.deploy.passes.fold_batch_norm import fold_batch_norm
from edge_sdk.deploy.passes.fold_interactive_lambda_context import fold_interactive_lambda_context
from edge_sdk.deploy.passes.fold_timestep_embedding import fold_timestep_embedding
from edge_sdk.deploy.passes.lambda_blocks_on_maps import lambda_blocks_on_maps
from edge_sdk.deploy.passes.local_lambda_conv3d_to_conv2d import local_lambda_conv3d_to_conv2d
from edge_sdk.deploy.passes.upsample_as_phase_convolution import upsample_as_phase_convolution

# The context fold first lets BatchNorm1d go with to_v; the blocks move to maps last (they need the folds).
PASSES = (
    fold_interactive_lambda_context,
    fold_timestep_embedding,
    local_lambda_conv3d_to_conv2d,
    fold_batch_norm,
    lambda_blocks_on_maps,
    upsample_as_phase_convolution,
)


def optimize_step_denoiser(step_denoiser: nn.Module) -> nn.Module:
    """A rewritten copy of a `StepDenoiser`; the original (and the denoiser it shares modules with) is untouched."""
    optimized = copy.deepcopy(step_denoiser)
    for rewrite in PASSES:
        optimized = rewrite(optimized)
    return optimized.eval()


__all__ = [
    "PASSES",
    "optimize_step_denoiser",
    "fold_batch_norm",
    "fold_interactive_lambda_context",
    "fold_timestep_embedding",
    "lambda_blocks_on_maps",
    "local_lambda_conv3d_to_conv2d",
    "upsample_as_phase_convolution",
]
