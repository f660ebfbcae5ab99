"""Nearest 2× upsampling as a broadcast multiply on the channels-last data (exact).

XNNPACK has no nearest resize. Each pixel of [B, H, W, C] becomes a 2×2 block: view it as
[B, H, 1, W, 1, C], multiply by ones [1, 1, 2, 1, 2, 1] and view the result as [B, 2H, 2W, C]. The
permutes to and from that layout are the token ↔ map reshapes `layout_round_trips` turns into plain
reshapes of the delegate's channels-last data, so the only work left is writing the 4× larger output; as a
transposed convolution with a 2×2 kernel of ones (ExecuTorch has no other delegated way) it took 40× longer.
"""
from __future__ import annotations

import torch


def upsample_2x(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    pixels = x.permute(0, 2, 3, 1).reshape(b, h, 1, w, 1, c)
    blocks = torch.ones(1, 1, 2, 1, 2, 1, dtype=x.dtype, device=x.device)
    return (pixels * blocks).reshape(b, 2 * h, 2 * w, c).permute(0, 3, 1, 2)
