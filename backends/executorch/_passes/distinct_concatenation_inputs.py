"""A concatenation that lists one tensor twice gets a copy of it in the second place.

XNNPACK's partitioner counts a concatenation's distinct inputs and refuses one with fewer than two; the
first up block concatenates the deepest feature map with itself (the last skip is that same tensor).
`clone` is delegated and exact.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def cat(tensors, dim=0):
    seen, inputs, changed = set(), [], False
    for tensor in tensors:
        if id(tensor) in seen:
            tensor = aten.clone.default(tensor)
            changed = True
        seen.add(id(tensor))
        inputs.append(tensor)
    if not changed:
        return NotImplemented
    return aten.cat.default(inputs, dim)


DECOMPOSITIONS = {aten.cat.default: cat}
