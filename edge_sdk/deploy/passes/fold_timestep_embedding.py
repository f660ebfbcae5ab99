"""Replace the timestep embedder (sinusoid + 2-layer MLP) by a table of its outputs at the baked timesteps.

The step graph only ever sees the retained timesteps, so the time MLP's 2.05 M parameters (0.2B
model) become a [steps, 1280] table computed once with the same modules; the graph indexes it.
"""
from __future__ import annotations

import torch
from torch import nn


class StepTable(nn.Module):
    """Step index i → row i of a table computed once per baked timestep, [1, D]: here the time embedding the
    MLP gives for timesteps[i]; `fold_time_projections` stores every block's time addition the same way."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.register_buffer("table", table)

    def forward(self, i: torch.Tensor) -> torch.Tensor:
        return self.table[i]


def fold_timestep_embedding(step_denoiser: nn.Module) -> nn.Module:
    """Swap a StepDenoiser's TimestepEmbedder for the table of its outputs."""
    embedder = step_denoiser.time
    if isinstance(embedder, StepTable):
        return step_denoiser
    indices = torch.arange(embedder.timesteps.shape[0], device=embedder.timesteps.device)
    with torch.no_grad():
        table = torch.cat([embedder(indices[j : j + 1]) for j in range(indices.shape[0])])
    step_denoiser.time = StepTable(table)
    return step_denoiser
