"""A floating-point tensor divided by the number 1 is the tensor itself: the division is dropped.

diffusers' VAE ResNet blocks end with `(shortcut + h) / output_scale_factor` and its attention with
`/ rescale_output_factor`, both 1. Besides the wasted pass over the map, ExecuTorch 1.5.1's layout pass cannot
give the 0-d divisor a channels-last layout, so it computes the division channels-first: every residual sum
of the 0.2B decoder went through a transpose to NCHW and back (decode 22.1 → 21.3 s at one thread,
docs/architecture.md, "Decode memory"). x / 1 equals x exactly, so nothing else changes.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten


def div(x, other):
    if isinstance(x, torch.Tensor) and x.is_floating_point() and isinstance(other, (int, float)) and not isinstance(other, bool) and other == 1:
        return x
    return NotImplemented


DECOMPOSITIONS = {aten.div.Tensor: div}
