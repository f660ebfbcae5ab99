"""The DDIM schedule a deployment bakes in: retained timesteps and the fp32 coefficients of every step.

The numbers are read from diffusers' `DDIMScheduler` (configured by `edge_sdk.sampling.make_scheduler`)
and computed with the same fp32 tensor operations as its `step` and `add_noise`, so the baked update
is the scheduler's own arithmetic, not a re-derivation.
"""
from __future__ import annotations

import dataclasses

import torch

from edge_sdk.noise_schedule import make_scheduler
from edge_sdk.sampling import retained_timesteps


@dataclasses.dataclass(frozen=True)
class DDIMSchedule:
    """Per retained step i: x̂0 = (x − sqrt_one_minus_alpha[i]·ε)/sqrt_alpha[i];
    x ← sqrt_alpha_prev[i]·x̂0 + sqrt_one_minus_alpha_prev[i]·ε (η = 0)."""

    steps: int
    strength: float
    timesteps: tuple[int, ...]
    sqrt_alpha: torch.Tensor  # [n] fp32
    sqrt_one_minus_alpha: torch.Tensor
    sqrt_alpha_prev: torch.Tensor
    sqrt_one_minus_alpha_prev: torch.Tensor
    # add_noise at the first retained timestep (used when strength < 1).
    start_signal: float
    start_noise: float

    @property
    def starts_from_noise(self) -> bool:
        return self.strength >= 1.0

    def to_dict(self) -> dict:
        """Plain numbers, for bindings that run the host loop themselves."""
        return {
            "steps": self.steps,
            "strength": self.strength,
            "timesteps": list(self.timesteps),
            "sqrt_alpha": self.sqrt_alpha.tolist(),
            "sqrt_one_minus_alpha": self.sqrt_one_minus_alpha.tolist(),
            "sqrt_alpha_prev": self.sqrt_alpha_prev.tolist(),
            "sqrt_one_minus_alpha_prev": self.sqrt_one_minus_alpha_prev.tolist(),
            "start_signal": self.start_signal,
            "start_noise": self.start_noise,
            "starts_from_noise": self.starts_from_noise,
        }


def ddim_schedule(steps: int = 20, strength: float = 1.0) -> DDIMSchedule:
    scheduler = make_scheduler()
    timesteps = retained_timesteps(scheduler, steps, strength)
    alphas = scheduler.alphas_cumprod  # fp32, as DDIMScheduler.step indexes it
    stride = scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    alpha_t = torch.stack([alphas[int(t)] for t in timesteps])
    # DDIMScheduler.step: a previous timestep below 0 uses final_alpha_cumprod (1.0 with set_alpha_to_one).
    alpha_prev = torch.stack(
        [alphas[int(t) - stride] if int(t) - stride >= 0 else scheduler.final_alpha_cumprod for t in timesteps]
    ).to(torch.float32)
    first = timesteps[0].reshape(1)
    start_signal = alphas[first] ** 0.5
    start_noise = (1 - alphas[first]) ** 0.5
    return DDIMSchedule(
        steps=steps,
        strength=float(strength),
        timesteps=tuple(int(t) for t in timesteps),
        sqrt_alpha=alpha_t**0.5,
        sqrt_one_minus_alpha=(1 - alpha_t) ** 0.5,
        sqrt_alpha_prev=alpha_prev**0.5,
        sqrt_one_minus_alpha_prev=(1 - alpha_prev) ** 0.5,
        start_signal=float(start_signal),
        start_noise=float(start_noise),
    )
