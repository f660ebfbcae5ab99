"""Nearest 2× upsampling followed by a 3×3 convolution, as one 2×2 convolution on the small map (exact).

Each output pixel (2i + a, 2j + b) of conv3×3(upsample(x)) reads only a 2×2 neighbourhood of x: its phase (a, b)
decides which of the 3×3 taps fall on the same source pixel, and those taps' weights add up. So the four phases
are four 2×2 convolutions of x, here one Conv2d(C, 4·C', 2, padding=1) whose output position (i + a, j + b)
holds phase (a, b) of output (i, j) in channel block 2a + b; slicing and interleaving the phases gives the upsampled result. It costs
16 multiply-adds per output pixel and channel pair instead of 36 (the UNet's two upsampling convolutions were
the step graph's largest layers; the VAE decoder's three are a quarter of its work), and the 4× larger input map
is never built. Applies to the UNet's `Upsample` and to diffusers' `Upsample2D` in its interpolate-then-3×3 form.
"""
from __future__ import annotations

import torch
from torch import nn

from diffusers.models.upsampling import Upsample2D

from edge_sdk.deploy.passes.swap_modules import swap_modules
from edge_sdk.model import Upsample


def _phase_taps(weight: torch.Tensor, phase: int, dim: int) -> torch.Tensor:
    """The 3 taps of `dim` (2 or 3) merged into the 2 a phase sees: phase 0 reads source rows (i − 1, i) with taps
    (0 | 1 + 2); phase 1 reads (i, i + 1) with taps (0 + 1 | 2)."""
    t0, t1, t2 = weight.unbind(dim)
    pair = (t0, t1 + t2) if phase == 0 else (t0 + t1, t2)
    return torch.stack(pair, dim)


class PhaseUpsample(nn.Module):
    """Nearest 2×, then `conv` (3×3, padding 1), as one 2×2 convolution over the four output phases."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1) or conv.groups != 1:
            raise ValueError(f"PhaseUpsample needs a 3×3 convolution with padding 1, got {conv}")
        weight = conv.weight  # [C', C, 3, 3]
        phases = [_phase_taps(_phase_taps(weight, a, 2), b, 3) for a in (0, 1) for b in (0, 1)]  # (a, b) order
        self.out_channels = conv.out_channels
        has_bias = conv.bias is not None
        self.conv = nn.Conv2d(conv.in_channels, 4 * conv.out_channels, 2, padding=1, bias=has_bias, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat(phases))
            if has_bias:
                self.conv.bias.copy_(conv.bias.repeat(4))

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is not None:
            raise ValueError("PhaseUpsample only doubles the map (diffusers' output_size is not supported)")
        b, _, h, w = x.shape
        c = self.out_channels
        # Channels-last view [B, H+1, W+1, phase, C'] (at most 5 dims: Core ML's limit): phase 2a + p of output
        # pixel (i, j) sits at (i + a, j + p).
        grid = self.conv(x).permute(0, 2, 3, 1).reshape(b, h + 1, w + 1, 4, c)

        def phase(a: int, p: int) -> torch.Tensor:  # [B, H, W, 1, C'], its channels cut out first (less to copy)
            return grid.narrow(3, 2 * a + p, 1).narrow(1, a, h).narrow(2, p, w)

        # Row phase a: columns interleaved ((j, p) → 2j + p), then the rows ((i, a) → 2i + a).
        rows = [torch.cat([phase(a, 0), phase(a, 1)], dim=3).reshape(b, h, 1, 2 * w, c) for a in (0, 1)]
        return torch.cat(rows, dim=2).reshape(b, 2 * h, 2 * w, c).permute(0, 3, 1, 2)


def _is_interpolate_then_conv(upsample: Upsample2D) -> bool:
    return upsample.interpolate and upsample.use_conv and not upsample.use_conv_transpose and upsample.norm is None and upsample.name == "conv"


def upsample_as_phase_convolution(module: nn.Module) -> nn.Module:
    """Swap, in place, every UNet `Upsample` and every interpolate-then-conv `Upsample2D` of `module` for its phase form."""
    swap_modules(module, Upsample, lambda upsample: PhaseUpsample(upsample.conv))
    return swap_modules(module, Upsample2D, lambda upsample: PhaseUpsample(upsample.conv), where=_is_interpolate_then_conv)
