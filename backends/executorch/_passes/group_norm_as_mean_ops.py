"""GroupNorm as means over the map, then over each group's channels: all delegated by XNNPACK, no transposes.

XNNPACK has no group-norm op, and its mean only averages the two innermost dims of a 4-D tensor. Inside the
delegate a map is channels-last, so averaging its spatial dims is cheap while regrouping its channels
([N, groups, C/groups, H·W]) would transpose the whole map. The statistics are therefore taken in two steps:
the mean of every channel over the map ([N, C, 1, 1]), then the mean of those per group on that small tensor
(equal counts per channel, so it is the group mean). The variance is the mean of the centred square (the
two-pass form, as PyTorch computes it), not E[x²] − E[x]².
"""
from __future__ import annotations

import functools
import math

import torch

aten = torch.ops.aten


def _group_mean(per_channel: torch.Tensor, groups: int, channels_last: bool) -> torch.Tensor:
    """[N, C, 1, 1] → each channel's group mean, [N, C, 1, 1]."""
    n, channels = per_channel.shape[:2]
    grouped = per_channel.reshape(n, groups, channels // groups, 1).mean(dim=(2, 3), keepdim=True)
    # Broadcast back to every channel of the group (a multiply XNNPACK takes, where expand is not delegated).
    ones = torch.ones(1, 1, channels // groups, 1, dtype=per_channel.dtype, device=per_channel.device)
    per_group = (grouped * ones).reshape(n, channels, 1, 1)
    # The reshapes leave the statistic channels-first in XNNPACK's layout pass, and a map that arrives
    # channels-first too (the phase upsampler's interleave) is then centred, normalized and passed through
    # SiLU channels-first, beside the channels-last copy its mean was taken from: one more full map alive
    # (256 MB at the 0.2B decoder's first 512² block). A mean over the statistic's 1×1 map changes no value
    # and makes it channels-last, so the whole block follows.
    return per_group.mean(dim=(2, 3), keepdim=True) if channels_last else per_group


def native_group_norm(x, weight, bias, n, channels, spatial, groups, eps, channels_last_statistics=True):
    shape = x.shape
    if x.dim() != 4:
        x = x.reshape(n, channels, spatial, 1)
    mean = _group_mean(x.mean(dim=(2, 3), keepdim=True), groups, channels_last_statistics)
    centred = x - mean
    variance = _group_mean((centred * centred).mean(dim=(2, 3), keepdim=True), groups, channels_last_statistics)
    rstd = torch.rsqrt(variance + eps)
    scale = rstd if weight is None else rstd * weight.reshape(1, channels, 1, 1)
    out = centred * scale
    if bias is not None:
        out = out + bias.reshape(1, channels, 1, 1)
    group_stat = (n, groups, channels // groups)
    # A reshape of a channels-last map, even to its own shape, costs XNNPACK two transposes.
    out = out.reshape(shape) if out.shape != shape else out
    return out, mean.reshape(group_stat)[:, :, 0], rstd.reshape(group_stat)[:, :, 0]


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True, channels_last_statistics=True):
    n, channels = x.shape[0], x.shape[1]
    spatial = math.prod(x.shape[2:])
    return native_group_norm(x, weight, bias, n, channels, spatial, num_groups, eps, channels_last_statistics)[0]


DECOMPOSITIONS = {aten.group_norm.default: group_norm, aten.native_group_norm.default: native_group_norm}
# For graphs lowered with `layout_round_trips`: with channels-last statistics XNNPACK 1.5.1's runtime rejects
# them ("Propagating input shapes failed"), and their maps reach a GroupNorm channels-last anyway.
ROUND_TRIP_DECOMPOSITIONS = {op: functools.partial(decomposition, channels_last_statistics=False) for op, decomposition in DECOMPOSITIONS.items()}
