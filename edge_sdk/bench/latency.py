"""Per-graph latency of a bundle (or the eager reference): encode, step and decode on a real sample.

Both a bundle's `BundleGraphs` and the reference `DeployGraphs` are called the same way, so the numbers
compare the runtimes and nothing else. Step calls cycle through the baked step indices: the work per step
is the same, the inputs change as they do in the loop.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from edge_sdk.bench.stats import LatencyStats, time_calls
from edge_sdk.samples import sample_square

NOISE_SEED = 0


@dataclasses.dataclass
class GraphLatency:
    encode: LatencyStats
    step: LatencyStats
    decode: LatencyStats


@torch.no_grad()
def measure_graphs(graphs, image_size: int, steps: int, warmup: int, tick: Callable[[], None]) -> GraphLatency:
    """Time `graphs.encode`, `graphs.step` (`steps` calls after `warmup`) and `graphs.decode`.

    encode and decode are a few hundred ms to seconds each at 512²: they get max(1, steps // 4) timed calls,
    enough for a median without doubling the run. The encode call that makes the step's inputs warms encode;
    decode gets one warm-up call when `warmup` > 1 (runtimes pack weights at load, so a first call costs
    little more than the next).
    """
    image, mask = sample_square(0, image_size)
    masked_latents, mask_latent, *_ = graphs.encode(image, mask)
    masked_latents, mask_latent = masked_latents.float(), mask_latent.float()
    latent = masked_latents.shape[-1]
    x = torch.randn(1, masked_latents.shape[1], latent, latent, generator=torch.Generator().manual_seed(NOISE_SEED))
    baked = len(graphs.timesteps)
    indices = [torch.tensor([i % baked], dtype=torch.int64) for i in range(warmup + steps)]
    state = {"x": x}

    def step(i: int) -> None:
        state["x"] = graphs.step(state["x"], masked_latents, mask_latent, indices[i])

    vae_calls = max(1, steps // 4)
    encode = time_calls(lambda i: graphs.encode(image, mask), 0, vae_calls, tick)
    step_stats = time_calls(step, warmup, steps, tick)
    decode = time_calls(lambda i: graphs.decode(x), _decode_warmup(warmup), vae_calls, tick)
    return GraphLatency(encode, step_stats, decode)


def _decode_warmup(warmup: int) -> int:
    return 1 if warmup > 1 else 0


def calls_per_measurement(steps: int, warmup: int) -> int:
    """How many progress ticks `measure_graphs` makes (for the progress bar's total)."""
    vae_calls = max(1, steps // 4)
    return 2 * vae_calls + _decode_warmup(warmup) + warmup + steps
