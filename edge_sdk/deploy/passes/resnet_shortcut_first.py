"""A VAE ResNet block whose 1×1 shortcut runs before its main branch (the same operations, reordered: exact).

diffusers' `ResnetBlock2D` projects its input through `conv_shortcut` at the very end, so a block that
changes the channel count keeps its whole input alive through GroupNorm, SiLU and both 3×3 convolutions.
XNNPACK runs a graph in the order it was traced, and frees a tensor after its last reader: taking the
shortcut first lets the input go once the first GroupNorm has read it. In the 0.2B decoder the first
512² block reads 256 channels and writes 128, and the decode graph's peak drops by 124 MB (docs/architecture.md,
"Decode memory"). Only the VAE's form is rewritten: no time embedding, no up/down-sampling inside the block.
"""
from __future__ import annotations

import torch
from diffusers.models.resnet import ResnetBlock2D
from torch import nn

from edge_sdk.deploy.passes.swap_modules import swap_modules


class ShortcutFirstResnetBlock(nn.Module):
    def __init__(self, block: ResnetBlock2D):
        super().__init__()
        self.norm1, self.conv1, self.norm2, self.conv2 = block.norm1, block.conv1, block.norm2, block.conv2
        self.nonlinearity, self.dropout, self.conv_shortcut = block.nonlinearity, block.dropout, block.conv_shortcut
        self.output_scale_factor = block.output_scale_factor

    def forward(self, input_tensor: torch.Tensor, temb=None) -> torch.Tensor:
        if temb is not None:
            raise ValueError("ShortcutFirstResnetBlock is the VAE's block: it takes no time embedding")
        shortcut = self.conv_shortcut(input_tensor)
        hidden = self.conv1(self.nonlinearity(self.norm1(input_tensor)))
        hidden = self.conv2(self.dropout(self.nonlinearity(self.norm2(hidden))))
        return (shortcut + hidden) / self.output_scale_factor


def _is_vae_block_with_shortcut(block: ResnetBlock2D) -> bool:
    # Without a time projection the block's time-embedding mode changes nothing: norm2 reads conv1's output.
    return block.conv_shortcut is not None and block.upsample is None and block.downsample is None and block.time_emb_proj is None


def resnet_shortcut_first(module: nn.Module) -> nn.Module:
    """Swap, in place, every VAE-form `ResnetBlock2D` of `module` that has a 1×1 shortcut; returns `module`."""
    return swap_modules(module, ResnetBlock2D, ShortcutFirstResnetBlock, where=_is_vae_block_with_shortcut)
