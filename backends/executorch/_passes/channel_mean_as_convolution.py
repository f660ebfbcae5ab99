"""A mean over the channels of a map, [B, C, H, W] → [B, 1, H, W], as a 1×1 convolution with weights 1/C.

XNNPACK's mean only averages the two innermost dims of a 4-D tensor (global average pooling). A LayerNorm over
channels on a channels-last map (`edge_sdk.deploy.passes.lambda_blocks_on_maps`) needs the mean of each
pixel's C values: a 1×1 convolution with one output channel computes it in the layout the map already has.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

aten = torch.ops.aten


def mean_dim(x, dim, keepdim=False, dtype=None):
    dims = [dim] if isinstance(dim, int) else list(dim or [])
    if x.dim() != 4 or [d % 4 for d in dims] != [1] or not keepdim or dtype not in (None, x.dtype):
        return NotImplemented
    channels = x.shape[1]
    weight = torch.full((1, channels, 1, 1), 1.0 / channels, dtype=x.dtype, device=x.device)
    return F.conv2d(x, weight)


DECOMPOSITIONS = {aten.mean.dim: mean_dim}
