"""Nearest resizing by an integer factor with ops XNNPACK delegates (exact); XNNPACK has no nearest resize.

- k× down (the encode graph's mask → latent mask, which keeps the top-left pixel of every k×k cell):
  a depthwise 1×1 convolution of stride k with a kernel of ones.
- 2× up (the UNet's and the VAE decoder's upsamplers): a broadcast on the channels-last data, see
  `nearest_upsample_as_broadcast`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from edge_sdk.backends.executorch._passes.nearest_upsample_as_broadcast import upsample_2x

aten = torch.ops.aten


def upsample_nearest2d(x, output_size=None, scale_factors=None):
    if x.dim() != 4:
        return NotImplemented
    _, channels, height, width = x.shape
    if output_size is None:
        output_size = (int(height * scale_factors[0]), int(width * scale_factors[1]))
    out_h, out_w = (int(s) for s in output_size)
    if (out_h, out_w) == (2 * height, 2 * width):
        return upsample_2x(x)
    factor = height // out_h if out_h else 0
    if factor > 1 and height == out_h * factor and width == out_w * factor:
        ones = torch.ones(channels, 1, 1, 1, dtype=x.dtype, device=x.device)
        return F.conv2d(x, ones, stride=factor, groups=channels)
    return NotImplemented


DECOMPOSITIONS = {aten.upsample_nearest2d.vec: upsample_nearest2d}
