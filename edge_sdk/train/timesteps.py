"""Where in the noise schedule each training sample lands: logit-normal timesteps and offset noise."""
from __future__ import annotations

import torch


def logit_normal_timesteps(
    batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0, num_train_timesteps: int = 1000
) -> torch.Tensor:
    """t = ⌊σ(N(mean, std²))·T⌋: concentrates training on mid-schedule steps, where most of the image forms."""
    u = torch.sigmoid(mean + std * torch.randn(batch, generator=generator))
    return (u * num_train_timesteps).long().clamp(0, num_train_timesteps - 1)


def offset_noise(shape, generator: torch.Generator, offset: float = 0.0) -> torch.Tensor:
    """Gaussian noise plus `offset`·(one draw per sample and channel), which lets the model change mean brightness."""
    noise = torch.randn(shape, generator=generator)
    if offset:
        noise = noise + offset * torch.randn(shape[0], shape[1], 1, 1, generator=generator)
    return noise
