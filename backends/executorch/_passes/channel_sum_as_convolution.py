"""A sum over the channels of a map, [B, C, H, W] → [B, 1, H, W], as a 1×1 convolution with weights of one.

XNNPACK has no sum, and its mean only averages the two innermost dims of a 4-D tensor (global average pooling).
A LayerNorm over channels on a channels-last map (`edge_sdk.deploy.passes.lambda_blocks_on_maps`) needs the
sum of each pixel's C values: a 1×1 convolution with one output channel computes it in the layout the map
already has. (The deploy graph sums rather than averages because PT2E would give a mean the int8 grid of its
input: quantizers share observers across means.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

aten = torch.ops.aten


def sum_dim(x, dim, keepdim=False, dtype=None):
    dims = [dim] if isinstance(dim, int) else list(dim or [])
    if x.dim() != 4 or [d % 4 for d in dims] != [1] or not keepdim or dtype not in (None, x.dtype):
        return NotImplemented
    weight = torch.ones(1, x.shape[1], 1, 1, dtype=x.dtype, device=x.device)
    return F.conv2d(x, weight)


DECOMPOSITIONS = {aten.sum.dim_IntList: sum_dim}
