"""SiLU of an fp16 tensor as x·sigmoid(x) in fp16.

The default decomposition computes an fp16 SiLU in fp32 between two casts, and XNNPACK leaves the casts to
the portable kernels: every SiLU of the fp16 VAE split the graph twice. fp32 SiLU is left to the default.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def silu(x):
    if not isinstance(x, torch.Tensor) or x.dtype not in (torch.float16, torch.bfloat16):
        return NotImplemented
    return aten.mul.Tensor(x, aten.sigmoid.default(x))


DECOMPOSITIONS = {aten.silu.default: silu}
