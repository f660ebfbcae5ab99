"""The step graph: one complete CFG + DDIM denoising step, with the schedule stored as constants.

forward(x [B,4,64,64], masked_latents [B,4,64,64], mask_latent [B,1,64,64], i int64 [1]) → next x.
Inside: the batch of two (unconditional ids 10..19 first), the network output turned into ε where the
model predicts something else (`edge_sdk.prediction`), ε̂ = ε_u + g·(ε_c − ε_u), and the DDIM
(η = 0) update with the coefficients of retained step i. An app's whole loop is
`for i in range(n): x = step(x, masked_latents, mask_latent, i)`.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.passes import optimize_step_denoiser
from edge_sdk.deploy.precision import cast
from edge_sdk.deploy.schedule import DDIMSchedule
from edge_sdk.deploy.step_denoiser import StepDenoiser
from edge_sdk.model import MoebiusDenoiser
from edge_sdk.prediction import epsilon_from_output, needs_conversion


class StepGraph(nn.Module):
    def __init__(self, denoiser: nn.Module, schedule: DDIMSchedule, guidance_scale: float, config):
        super().__init__()
        self.denoiser = denoiser  # a StepDenoiser, rewritten or not
        self.config = config
        self.guidance_scale = float(guidance_scale)
        device = next(denoiser.parameters()).device
        for name in ("sqrt_alpha", "sqrt_one_minus_alpha", "sqrt_alpha_prev", "sqrt_one_minus_alpha_prev"):
            self.register_buffer(name, getattr(schedule, name).to(device=device, dtype=torch.float32))

    @property
    def compute_dtype(self) -> torch.dtype:
        return self.denoiser.conv_out.conv_pw.weight.dtype

    def forward(self, x, masked_latents, mask_latent, i):
        sample = torch.cat([x, mask_latent, masked_latents], dim=1).repeat(2, 1, 1, 1)
        # Guidance and the DDIM update stay in fp32 whatever the denoiser runs in (x̂0 divides by 0.119 at t = 900).
        eps = cast(self.denoiser(cast(sample, self.compute_dtype), i), torch.float32)
        if needs_conversion(self.config):
            eps = epsilon_from_output(eps, sample, self.sqrt_alpha[i], self.sqrt_one_minus_alpha[i], self.config)
        eps_uncond, eps_cond = eps.chunk(2)
        eps = eps_uncond + self.guidance_scale * (eps_cond - eps_uncond)
        x = cast(x, torch.float32)
        x0 = (x - self.sqrt_one_minus_alpha[i] * eps) / self.sqrt_alpha[i]
        return self.sqrt_alpha_prev[i] * x0 + self.sqrt_one_minus_alpha_prev[i] * eps


def build_step(
    denoiser: MoebiusDenoiser, schedule: DDIMSchedule, guidance_scale: float, optimize: bool = True, batch: int = 1
) -> StepGraph:
    """The step graph for `schedule`; with `optimize` its denoiser is a rewritten copy (see `passes`)."""
    timesteps = torch.tensor(schedule.timesteps, dtype=torch.int64)
    step_denoiser = StepDenoiser(denoiser, timesteps, batch=batch).eval()
    if optimize:
        step_denoiser = optimize_step_denoiser(step_denoiser)
    return StepGraph(step_denoiser, schedule, guidance_scale, denoiser.config).eval()
