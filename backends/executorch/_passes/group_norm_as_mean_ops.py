"""GroupNorm as means over the map, then over each group's channels: all delegated by XNNPACK, no transposes.

XNNPACK has no group-norm op, and its mean only averages the two innermost dims of a 4-D tensor. Inside the
delegate a map is channels-last, so averaging its spatial dims is cheap while regrouping its channels
([N, groups, C/groups, H·W]) would transpose the whole map. The statistics are therefore taken in two steps:
the mean of every channel over the map ([N, C, 1, 1]), then the mean of those per group on that small tensor
(equal counts per channel, so it is the group mean). The variance is the mean of the centred square (the
two-pass form, as PyTorch computes it), not E[x²] − E[x]².
"""
from __future__ import annotations

import math

import torch

aten = torch.ops.aten


def _group_mean(per_channel: torch.Tensor, groups: int) -> torch.Tensor:
    """[N, C, 1, 1] → each channel's group mean, [N, C, 1, 1]."""
    n, channels = per_channel.shape[:2]
    grouped = per_channel.reshape(n, groups, channels // groups, 1).mean(dim=(2, 3), keepdim=True)
    # Broadcast back to every channel of the group (a multiply XNNPACK takes, where expand is not delegated).
    ones = torch.ones(1, 1, channels // groups, 1, dtype=per_channel.dtype, device=per_channel.device)
    return (grouped * ones).reshape(n, channels, 1, 1)


def native_group_norm(x, weight, bias, n, channels, spatial, groups, eps):
    shape = x.shape
    if x.dim() != 4:
        x = x.reshape(n, channels, spatial, 1)
    mean = _group_mean(x.mean(dim=(2, 3), keepdim=True), groups)
    centred = x - mean
    variance = _group_mean((centred * centred).mean(dim=(2, 3), keepdim=True), groups)
    rstd = torch.rsqrt(variance + eps)
    scale = rstd if weight is None else rstd * weight.reshape(1, channels, 1, 1)
    out = centred * scale
    if bias is not None:
        out = out + bias.reshape(1, channels, 1, 1)
    group_stat = (n, groups, channels // groups)
    # A reshape of a channels-last map, even to its own shape, costs XNNPACK two transposes.
    out = out.reshape(shape) if out.shape != shape else out
    return out, mean.reshape(group_stat)[:, :, 0], rstd.reshape(group_stat)[:, :, 0]


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    n, channels = x.shape[0], x.shape[1]
    spatial = math.prod(x.shape[2:])
    return native_group_norm(x, weight, bias, n, channels, spatial, num_groups, eps)[0]


DECOMPOSITIONS = {aten.group_norm.default: group_norm, aten.native_group_norm.default: native_group_norm}
