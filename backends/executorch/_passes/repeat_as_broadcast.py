"""`repeat` along the batch dim (the CFG batch of two) as a broadcast multiply by ones.

XNNPACK delegates neither repeat nor expand, and its concatenation refuses the same tensor twice;
a broadcast multiply by 1.0 is exact and delegated.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def repeat(x, repeats):
    repeats = list(repeats)
    if len(repeats) != x.dim() or any(r != 1 for r in repeats[1:]) or x.shape[0] != 1:
        return NotImplemented
    ones = torch.ones([repeats[0]] + [1] * (x.dim() - 1), dtype=x.dtype, device=x.device)
    return x * ones


DECOMPOSITIONS = {aten.repeat.default: repeat}
