"""What the denoiser's last layer predicts, and how that becomes the ε every sampler and graph consumes.

The official model predicts ε. A small model trained briefly can instead predict v = √ᾱ·ε − √(1−ᾱ)·x₀
(Salimans & Ho, 2022): at the high-noise steps where a fill's colour is decided, ε̂ must be exact to
1/√ᾱ ≈ 12× (t = 950) for x̂₀ to be usable, while v̂ ≈ −x₀ there is an ordinary regression. It can also
take the known region's x̂₀ straight from the masked-image latents it is given: sampling from pure noise,
a small model's x̂₀ drifts off the known region and the fill follows the drift. Either way the module
still returns ε, so DDIM, guidance, the deploy step graph and every runtime stay as they are.
"""
from __future__ import annotations

import functools

import torch

PREDICTION_TYPES = ("epsilon", "v_prediction")


@functools.lru_cache(maxsize=1)
def alphas_cumprod() -> torch.Tensor:
    """ᾱ_t of the training schedule, t = 0…999 (fp32, CPU), read from the pipeline's own scheduler."""
    from edge_sdk.noise_schedule import make_scheduler  # diffusers is slow to import: only when first used

    return make_scheduler().alphas_cumprod.to(torch.float32).clone()


def needs_conversion(config) -> bool:
    return config.prediction_type != "epsilon" or config.keep_known_latents


def epsilon_from_output(
    output: torch.Tensor, sample: torch.Tensor, sqrt_alpha: torch.Tensor, sqrt_one_minus_alpha: torch.Tensor, config
) -> torch.Tensor:
    """The network's output → ε̂, computed in fp32.

    `sample` is the 9-channel denoiser input [x_t | latent mask (1 = hole) | masked-image latents];
    `sqrt_alpha` and `sqrt_one_minus_alpha` are √ᾱ_t and √(1−ᾱ_t), scalars or one per sample.
    """
    out = output.float()
    x = sample[:, :4].float()
    a = sqrt_alpha.float().reshape(-1, 1, 1, 1)
    s = sqrt_one_minus_alpha.float().reshape(-1, 1, 1, 1)
    eps = a * out + s * x if config.prediction_type == "v_prediction" else out
    if config.keep_known_latents:
        hole = sample[:, 4:5].float()
        known_eps = (x - a * sample[:, 5:9].float()) / s  # the ε for which x̂₀ equals the masked-image latent
        eps = hole * eps + (1 - hole) * known_eps
    return eps.to(output.dtype)


def epsilon_at_timesteps(output: torch.Tensor, sample: torch.Tensor, timesteps: torch.Tensor, config) -> torch.Tensor:
    """`epsilon_from_output` with ᾱ looked up for integer timesteps (one per sample)."""
    alpha = alphas_cumprod().to(output.device)[timesteps.long()]
    return epsilon_from_output(output, sample, alpha.sqrt(), (1 - alpha).sqrt(), config)


def task_loss_weight(alphas_cumprod_t: torch.Tensor, config) -> torch.Tensor:
    """Per-sample weight on the ε MSE that makes it the MSE of what the network predicts.

    For v: ε − ε̂ = √ᾱ·(v − v̂), so the ε MSE / ᾱ is the v MSE; without it the high-noise steps get
    almost no gradient (ᾱ = 0.0066 at t = 950).
    """
    if config.prediction_type == "v_prediction":
        return 1.0 / alphas_cumprod_t.float()
    return torch.ones_like(alphas_cumprod_t, dtype=torch.float32)
