"""The official sampling loop: DDIM (η = 0) with classifier-free guidance over the two category branches."""
from __future__ import annotations

from typing import Optional

import torch
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from edge_sdk.model import cfg_input_ids
from edge_sdk.noise_schedule import make_scheduler
from edge_sdk.sampling_settings import check_steps, check_steps_kept, check_strength


def retained_timesteps(scheduler: DDIMScheduler, steps: int, strength: float) -> torch.Tensor:
    """Timesteps the run visits: the last ⌊steps·strength⌋ of `set_timesteps(steps)` (img2img convention)."""
    steps, strength = check_steps(steps), check_strength(strength)
    check_steps_kept(steps, strength)
    scheduler.set_timesteps(steps)
    kept = min(int(steps * strength), steps)
    return scheduler.timesteps[steps - kept :]


def initial_latents(
    scheduler: DDIMScheduler,
    noise: torch.Tensor,
    clean_latents: Optional[torch.Tensor],
    first_timestep: torch.Tensor,
    strength: float,
) -> torch.Tensor:
    """Pure noise at strength ≥ 1; otherwise the clean latent noised to the first retained timestep."""
    if strength >= 1.0:
        return noise
    if clean_latents is None:
        raise ValueError("strength < 1 starts from the clean latent: pass clean_latents")
    return scheduler.add_noise(clean_latents, noise, first_timestep.reshape(1))


def guided_noise(denoiser, x, mask_latent, masked_latents, timestep, guidance_scale: float) -> torch.Tensor:
    """ε̂ = ε_u + g·(ε_c − ε_u) from one batch of two per sample (unconditional rows first)."""
    batch = x.shape[0]
    model_input = torch.cat([x, mask_latent, masked_latents], dim=1).repeat(2, 1, 1, 1)
    ids = cfg_input_ids(batch, denoiser.config.context_tokens, device=x.device)
    eps = denoiser(model_input, timestep.reshape(1).to(x.device), ids)
    eps_uncond, eps_cond = eps.chunk(2)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


@torch.no_grad()
def sample_latents(
    denoiser,
    *,
    masked_latents: torch.Tensor,
    mask_latent: torch.Tensor,
    noise: torch.Tensor,
    clean_latents: Optional[torch.Tensor] = None,
    steps: int = 20,
    strength: float = 1.0,
    guidance_scale: float = 2.5,
    noise_offset: float = 0.0,
    generator: Optional[torch.Generator] = None,
    return_trajectory: bool = False,
    progress: bool = False,
):
    """Run the DDIM + CFG loop of the official pipeline on latents already scaled by the VAE factor.

    Returns the final latent, or (final, trajectory) where the trajectory stacks the start latent and
    the latent after every step: [steps_run + 1, B, 4, H, W].
    """
    scheduler = make_scheduler()
    timesteps = retained_timesteps(scheduler, steps, strength)
    if noise_offset:
        # The official training-time offset: one extra N(0,1) draw per sample and channel.
        offset = torch.randn(noise.shape[0], noise.shape[1], 1, 1, generator=generator, dtype=noise.dtype)
        noise = noise + noise_offset * offset.to(noise.device)
    x = initial_latents(scheduler, noise, clean_latents, timesteps[0], strength)
    trajectory = [x]
    for t in tqdm(timesteps, desc="denoising", disable=not progress, leave=False):
        eps = guided_noise(denoiser, x, mask_latent, masked_latents, t, guidance_scale)
        x = scheduler.step(eps, t, x, eta=0.0).prev_sample
        trajectory.append(x)
    if return_trajectory:
        return x, torch.stack(trajectory)
    return x
