"""GroupNorm as reshape + mean + rsqrt + mul/add: XNNPACK has no group-norm op, but it delegates all of these.

XNNPACK's mean only averages the two innermost dims of a 4-D tensor, so x [N, C, *] is viewed as
[N, groups, C/groups, rest] and both statistics are means over dims (2, 3). The variance is the mean of the
centred square (the two-pass form, as PyTorch computes it), not E[x²] − E[x]².
"""
from __future__ import annotations

import math

import torch

aten = torch.ops.aten


def native_group_norm(x, weight, bias, n, channels, spatial, groups, eps):
    grouped = x.reshape(n, groups, channels // groups, spatial)
    mean = grouped.mean(dim=(2, 3), keepdim=True)
    centred = grouped - mean
    rstd = torch.rsqrt((centred * centred).mean(dim=(2, 3), keepdim=True) + eps)
    out = (centred * rstd).reshape(x.shape)
    affine_shape = [1, channels] + [1] * (x.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(affine_shape)
    if bias is not None:
        out = out + bias.reshape(affine_shape)
    return out, mean.reshape(n, groups), rstd.reshape(n, groups)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    n, channels = x.shape[0], x.shape[1]
    spatial = math.prod(x.shape[2:])
    return native_group_norm(x, weight, bias, n, channels, spatial, num_groups, eps)[0]


DECOMPOSITIONS = {aten.group_norm.default: group_norm, aten.native_group_norm.default: native_group_norm}
