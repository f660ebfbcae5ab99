"""Fold every ResNet block's time projection into one table of its outputs at the baked timesteps.

After the deploy passes, the step graph's time embedding is a table row `temb = table[i]`, and each ResNet
block adds `time_emb_proj(silu(temb))`: a function of the step index alone. This rewrite computes those
additions once for every retained step (fp32, with the block's own modules) and stores them side by side
in one [steps, Σ channels] table: the graph gathers one row per step and each block slices its part. The
15 projections of the 0.2B model (14.3 M parameters, 57 MB in fp32) leave the graph, and the timestep path
stays exact fp32 whatever the rest is quantized to.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edge_sdk.deploy.passes.fold_timestep_embedding import StepTable
from edge_sdk.model import ResnetBlock


class ResnetBlockWithTimeRow(nn.Module):
    """ResnetBlock whose time addition is its slice of the gathered row (same norms and convolutions)."""

    def __init__(self, block: ResnetBlock, offset: int):
        super().__init__()
        self.norm1, self.conv1, self.norm2, self.conv2 = block.norm1, block.conv1, block.norm2, block.conv2
        self.conv_shortcut = block.conv_shortcut
        self.offset, self.width = offset, block.time_emb_proj.out_features

    def forward(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + rows[:, self.offset : self.offset + self.width][:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return shortcut + h


def resnet_blocks(step_denoiser: nn.Module) -> list[tuple[nn.Module, str, ResnetBlock]]:
    """(owner, attribute, block) for every ResnetBlock, in graph order."""
    found = []
    for owner in step_denoiser.modules():
        for name, child in owner.named_children():
            if isinstance(child, ResnetBlock):
                found.append((owner, name, child))
    return found


@torch.no_grad()
def fold_time_projections(step_graph: nn.Module) -> list[str]:
    """Rewrite `step_graph` (a StepGraph) in place; returns the names of the projections folded away."""
    denoiser = step_graph.denoiser
    blocks = resnet_blocks(denoiser)
    if not blocks:
        return []
    steps = step_graph.sqrt_alpha.shape[0]
    indices = torch.arange(steps, dtype=torch.int64, device=step_graph.sqrt_alpha.device)
    rows = []
    for j in range(steps):
        temb = denoiser.time(indices[j : j + 1])
        rows.append(torch.cat([block.time_emb_proj(F.silu(temb)).float() for _, _, block in blocks], dim=1))
    table = torch.cat(rows)
    module_names = {id(module): name for name, module in step_graph.named_modules()}
    folded, offset = [], 0
    for owner, attribute, block in blocks:
        folded.append(f"{module_names[id(block)]}.time_emb_proj")
        setattr(owner, attribute, ResnetBlockWithTimeRow(block, offset))
        offset += block.time_emb_proj.out_features
    denoiser.time = StepTable(table)  # row i: every block's time addition for timesteps[i]
    return folded
