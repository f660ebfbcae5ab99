"""LayerNorm over the last dim as reshape + mean + rsqrt + mul/add, all delegated by XNNPACK.

Tokens [B, N, C] are viewed as [B, N, C, 1] so the statistics are XNNPACK's mean over dims (2, 3).
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def native_layer_norm(x, normalized_shape, weight, bias, eps):
    if len(normalized_shape) != 1 or x.dim() != 3:
        return NotImplemented
    b, n, c = x.shape
    tokens = x.reshape(b, n, c, 1)
    mean = tokens.mean(dim=(2, 3), keepdim=True)
    centred = tokens - mean
    rstd = torch.rsqrt((centred * centred).mean(dim=(2, 3), keepdim=True) + eps)
    out = (centred * rstd).reshape(b, n, c)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean.reshape(b, n, 1), rstd.reshape(b, n, 1)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    result = native_layer_norm(x, normalized_shape, weight, bias, eps)
    return result if result is NotImplemented else result[0]


DECOMPOSITIONS = {aten.layer_norm.default: layer_norm, aten.native_layer_norm.default: native_layer_norm}
