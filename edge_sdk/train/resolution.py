"""Moving trained denoiser weights to another image size (train small and cheap, deploy at 512).

Every layer is size-independent except Interactive-λ's positional tables, one entry per latent
position; those are resampled bilinearly to the new grid.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from edge_sdk.checkpoint import build_denoiser
from edge_sdk.model import MoebiusDenoiser


def resample_position_table(table: torch.Tensor, side: int) -> torch.Tensor:
    """[n², L, dk, 1] → [side², L, dk, 1], treating the table as an n×n map with L·dk channels."""
    n2, tokens, dk, one = table.shape
    n = math.isqrt(n2)
    grid = table.reshape(n, n, tokens * dk * one).permute(2, 0, 1)[None].float()
    resized = F.interpolate(grid, size=(side, side), mode="bilinear", align_corners=False)
    return resized[0].permute(1, 2, 0).reshape(side * side, tokens, dk, one).to(table.dtype)


def transfer_to_image_size(model: MoebiusDenoiser, image_size: int) -> MoebiusDenoiser:
    """A copy of `model` for `image_size`: same weights, positional tables resampled."""
    config = dataclasses.replace(model.config, image_size=image_size)
    target = build_denoiser(config)
    expected = target.state_dict()
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("rel_pos_emb") and value.shape != expected[key].shape:
            value = resample_position_table(value, math.isqrt(expected[key].shape[0]))
        state[key] = value
    target.load_state_dict(state, strict=True)
    return target.train(model.training)
