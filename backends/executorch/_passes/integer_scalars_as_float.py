"""Arithmetic with a Python int (`1 - mask`, `x / 2`, `x + 1`) rewritten with the same value as a float.

An int operand becomes an int64 constant and a dtype cast in the edge dialect, and XNNPACK leaves the cast
to the portable kernels, splitting the graph around it; a float operand needs no cast. Same values, same
results.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _floating(x) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def add(x, other, alpha=1):
    if not (_floating(x) and _is_int(other)):
        return NotImplemented
    return aten.add.Tensor(x, float(other), alpha=alpha)


def sub(x, other, alpha=1):
    if not (_floating(x) and _is_int(other)):
        return NotImplemented
    return aten.sub.Tensor(x, float(other), alpha=alpha)


def rsub(x, other, alpha=1):
    if not (_floating(x) and _is_int(other)):
        return NotImplemented
    # other − alpha·x, with the negation exact in floating point.
    return aten.add.Tensor(aten.mul.Tensor(x, -float(alpha)), float(other))


def mul(x, other):
    if not (_floating(x) and _is_int(other)):
        return NotImplemented
    return aten.mul.Tensor(x, float(other))


def div(x, other):
    if not (_floating(x) and _is_int(other)):
        return NotImplemented
    return aten.div.Tensor(x, float(other))


DECOMPOSITIONS = {
    aten.add.Tensor: add,
    aten.sub.Tensor: sub,
    aten.rsub.Scalar: rsub,
    aten.mul.Tensor: mul,
    aten.div.Tensor: div,
}
