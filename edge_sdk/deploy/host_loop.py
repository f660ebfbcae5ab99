"""The app-side loop over the three graphs, written once: encode → start latent → step i = 0..n−1 → decode.

It takes any three callables with the graph contract's signatures (`graph_contract.py`): the deploy graphs
in PyTorch (`DeployGraphs.run`) and a bundle's programs in a backend's runtime (`edge_sdk.load(bundle)`).
The bindings run the same loop in C++ and JavaScript from a bundle's manifest.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Protocol

import torch


class LoopSchedule(Protocol):
    """What the loop reads of a schedule: `DDIMSchedule` has these fields, and so does a bundle's manifest."""

    timesteps: tuple[int, ...]
    starts_from_noise: bool
    start_signal: float  # add_noise at timesteps[0], used when strength < 1
    start_noise: float


@dataclasses.dataclass(frozen=True)
class StartOfLoop:
    """A LoopSchedule from plain numbers (a bundle's manifest)."""

    timesteps: tuple[int, ...]
    starts_from_noise: bool
    start_signal: float
    start_noise: float


def start_latent(schedule: LoopSchedule, noise: torch.Tensor, clean_latents: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The first x: the noise itself at strength ≥ 1, else add_noise(clean, noise, timesteps[0])."""
    if schedule.starts_from_noise:
        return noise
    if clean_latents is None:
        raise ValueError("strength < 1 starts from the image: pass the clean_latents the encode graph returns")
    return schedule.start_signal * clean_latents + schedule.start_noise * noise


@torch.no_grad()
def denoise(step: Callable, schedule: LoopSchedule, x, masked_latents, mask_latent, *, progress: bool = False) -> torch.Tensor:
    """Every baked step, in order; the step index is an int64 tensor [1], as the step graph takes it."""
    indices = range(len(schedule.timesteps))
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="denoising", leave=False)
    for i in indices:
        x = step(x, masked_latents, mask_latent, torch.tensor([i], dtype=torch.int64, device=x.device))
    return x


@torch.no_grad()
def run_loop(
    encode: Callable, step: Callable, decode: Callable, schedule: LoopSchedule, image, mask, noise, *, progress: bool = False
) -> torch.Tensor:
    """image [1,3,S,S] in [−1,1], mask [1,1,S,S] in {0,1}, noise [1,4,S/8,S/8] → image [1,3,S,S] in [0,1]."""
    masked_latents, mask_latent, *clean = encode(image, mask)
    x = start_latent(schedule, noise, *clean)
    x = denoise(step, schedule, x, masked_latents, mask_latent, progress=progress)
    return decode(x)
