"""The denoiser as the step graph runs it: the CFG batch's category ids and the baked timesteps are constants.

`StepDenoiser(sample, i)` returns the network output (ε for the official model) for the CFG batch at
retained step `i`. It holds the official modules themselves (shared, not copied), so before any rewrite
it computes exactly what the network inside
`MoebiusDenoiser(sample, timesteps[i], cfg_input_ids())` computes. The rewrite passes in
`edge_sdk.deploy.passes` then swap its parts: the timestep embedder for a table, the category context
for constants inside each Interactive-λ, the BatchNorms and the Conv3d for foldable equivalents.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from edge_sdk.model import MoebiusDenoiser, cfg_input_ids, timestep_sinusoid, unet_body


class TimestepEmbedder(nn.Module):
    """Step index → time embedding [1, D]: the sinusoid of the baked timestep (fp32) and the time MLP."""

    def __init__(self, time_embedding: nn.Module, timesteps: torch.Tensor, sinusoid_dim: int):
        super().__init__()
        self.time_embedding = time_embedding
        self.sinusoid_dim = sinusoid_dim
        self.register_buffer("timesteps", timesteps.to(torch.int64))

    def forward(self, i: torch.Tensor) -> torch.Tensor:
        dtype = self.time_embedding.linear_1.weight.dtype
        return self.time_embedding(timestep_sinusoid(self.timesteps[i], self.sinusoid_dim).to(dtype))


class CategoryContext(nn.Module):
    """The Interactive-λ context of the CFG batch: embedding of the fixed ids, projected to 768."""

    def __init__(self, embedding_layer: nn.Embedding, encoder_hid_proj: nn.Linear, input_ids: torch.Tensor):
        super().__init__()
        self.embedding_layer = embedding_layer
        self.encoder_hid_proj = encoder_hid_proj
        self.register_buffer("input_ids", input_ids)

    def forward(self) -> torch.Tensor:
        return self.encoder_hid_proj(self.embedding_layer(self.input_ids))


class StepDenoiser(nn.Module):
    """The network output of the CFG batch (row 0 unconditional, row 1 conditional) at baked step index i."""

    def __init__(self, denoiser: MoebiusDenoiser, timesteps: torch.Tensor, batch: int = 1):
        super().__init__()
        unet = denoiser.diff_model
        device = unet.conv_norm_out.weight.device
        self.time = TimestepEmbedder(unet.time_embedding, timesteps.to(device), unet.config.block_out_channels[0])
        ids = cfg_input_ids(batch, denoiser.config.context_tokens, device=device)
        # None once fold_interactive_lambda_context has moved the context into the λ layers.
        self.context: Optional[nn.Module] = CategoryContext(denoiser.embedding_layer, unet.encoder_hid_proj, ids)
        self.conv_in = unet.conv_in
        self.down_blocks = unet.down_blocks
        self.up_blocks = unet.up_blocks
        self.conv_norm_out = unet.conv_norm_out
        self.conv_out = unet.conv_out

    def forward(self, sample: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        temb = self.time(i)
        context = self.context() if self.context is not None else None
        # The skip stack is a Python list, unrolled by export.
        return unet_body(self, sample, temb, context)
