"""The diffusion noise schedule Moebius was trained with, as a diffusers DDIM scheduler.

Its own module so that the model's output conversion (`edge_sdk.prediction`) can read ᾱ without importing
the sampling loop, which imports the model.
"""
from __future__ import annotations

from diffusers import DDIMScheduler


def make_scheduler() -> DDIMScheduler:
    """Moebius' scheduler settings (docs/architecture.md); everything else is the diffusers default (leading spacing, ε)."""
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=True,
        steps_offset=0,
        prediction_type="epsilon",
    )
