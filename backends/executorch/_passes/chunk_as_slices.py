"""`chunk` / `split` (MixFFN's gate split, the CFG split of ε) as contiguous slices: XNNPACK delegates
slice, not split."""
from __future__ import annotations

import torch

aten = torch.ops.aten


def _slices(x, sizes, dim):
    dim = dim % x.dim()
    out, start = [], 0
    for size in sizes:
        out.append(aten.slice.Tensor(x, dim, start, start + size))
        start += size
    return out


def split_with_sizes(x, split_sizes, dim=0):
    return _slices(x, list(split_sizes), dim)


def split(x, split_size, dim=0):
    if not isinstance(split_size, int):
        return _slices(x, list(split_size), dim)
    total = x.shape[dim]
    return _slices(x, [min(split_size, total - start) for start in range(0, total, split_size)], dim)


def chunk(x, chunks, dim=0):
    total = x.shape[dim]
    size = -(-total // chunks)
    return split(x, size, dim)


DECOMPOSITIONS = {
    aten.chunk.default: chunk,
    aten.split.Tensor: split,
    aten.split_with_sizes.default: split_with_sizes,
}
