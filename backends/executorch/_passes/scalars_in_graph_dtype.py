"""Arithmetic with a Python number (`1 - mask`, `x / 2`, `latents / 0.13025`, `var + eps`) rewritten so the
number already has the tensor's dtype.

The edge dialect turns a Python number into a constant tensor: an int becomes int64 and a float fp32, and
either is then cast to the tensor's dtype by `_to_dim_order_copy`, which XNNPACK leaves to the portable
kernels (81 casts split the fp16 decoder into 43 pieces). Here an fp32 tensor gets the number as a float
and an fp16 tensor gets a 0-d fp16 constant (folded by constant propagation). Same values, same results.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _needs_rewrite(x, value) -> bool:
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and _number(value)):
        return False
    return x.dtype != torch.float32 or isinstance(value, int)


def _operand(x: torch.Tensor, value):
    if x.dtype == torch.float32:
        return float(value)
    return torch.full((), value, dtype=x.dtype, device=x.device)


def add(x, other, alpha=1):
    if not _needs_rewrite(x, other) or alpha != 1:
        return NotImplemented
    return aten.add.Tensor(x, _operand(x, other))


def sub(x, other, alpha=1):
    if not _needs_rewrite(x, other) or alpha != 1:
        return NotImplemented
    return aten.sub.Tensor(x, _operand(x, other))


def rsub(x, other, alpha=1):
    if not _needs_rewrite(x, other) or alpha != 1:
        return NotImplemented
    # other − x, with the negation exact in floating point.
    return aten.add.Tensor(aten.neg.default(x), _operand(x, other))


def mul(x, other):
    if not _needs_rewrite(x, other):
        return NotImplemented
    return aten.mul.Tensor(x, _operand(x, other))


def div(x, other):
    if not _needs_rewrite(x, other):
        return NotImplemented
    return aten.div.Tensor(x, _operand(x, other))


DECOMPOSITIONS = {
    aten.add.Tensor: add,
    aten.sub.Tensor: sub,
    aten.rsub.Scalar: rsub,
    aten.mul.Tensor: mul,
    aten.div.Tensor: div,
}
