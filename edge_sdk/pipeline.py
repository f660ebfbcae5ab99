"""The reference inpainting pipeline in PyTorch: VAE encode, DDIM + CFG, decode, paste-back.

Every deployed backend is measured against this. It follows the official pipeline (docs/architecture.md,
"The pipeline") with two deliberate differences: the VAE posterior mean instead of a sample
(deterministic), and strength 1.0 by default (0.99 leaves ~12% of the removed object in the start latent;
a preset may set its own: `nano` starts half-way from its filled hole).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from PIL import Image

from edge_sdk.checkpoint import load_denoiser
from edge_sdk.config import MoebiusConfig, resolve_config
from edge_sdk.imaging import ImageLike
from edge_sdk.hole_fill import masked_image, start_latents
from edge_sdk.inpainting import inpaint_any_size
from edge_sdk.model import MoebiusDenoiser
from edge_sdk.notices import warn_once
from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS, RANDOM_WEIGHTS_NOTICE
from edge_sdk.sampling import sample_latents
from edge_sdk.sampling_settings import check_sampling
from edge_sdk.vae import decode_to_unit, encode_mean, resolve_vae


def latent_mask(mask: torch.Tensor, latent_side: int) -> torch.Tensor:
    """Nearest downsampling (the top-left pixel of each 8×8 cell), as the official pipeline does."""
    return F.interpolate(mask, size=(latent_side, latent_side))


class InpaintPipeline:
    def __init__(
        self,
        denoiser: MoebiusDenoiser,
        vae,
        *,
        name: str = "custom",
        random_weights: bool = False,
        model_notice: Optional[str] = None,
        default_strength: float = 1.0,
    ):
        self.denoiser = denoiser.eval()
        # The strength a call without one uses: 1.0 (from pure noise) unless the model says otherwise.
        self.default_strength = default_strength
        self.vae = resolve_vae(vae)
        self.name = name
        self.random_weights = random_weights
        self.model_notice = model_notice

    @property
    def config(self) -> MoebiusConfig:
        return self.denoiser.config

    @property
    def notice(self) -> Optional[str]:
        """What a user must be told about this model on every run, if anything."""
        return RANDOM_WEIGHTS_NOTICE.format(name=self.name) if self.random_weights else self.model_notice

    @classmethod
    def from_preset(cls, name: str = DEFAULT_MODEL) -> "InpaintPipeline":
        from edge_sdk.errors import ConfigError

        if name not in MODEL_PRESETS:
            raise ConfigError(f"unknown model {name!r}: use one of {', '.join(MODEL_PRESETS)}")
        preset = MODEL_PRESETS[name]
        if preset.random:
            return cls(load_denoiser(None, preset.config), preset.vae, name=name, random_weights=True)
        from edge_sdk.errors import CheckpointError

        weights, vae_dir = preset.packaged(preset.denoiser_weights), preset.packaged(preset.vae)
        if not weights.is_file() or not (vae_dir / "config.json").is_file():
            raise CheckpointError(f"model {name!r}: its packaged weights are missing from {weights.parent} (reinstall moebius-edge)")
        return cls(
            load_denoiser(weights, preset.config),
            resolve_vae(vae_dir).float(),
            name=name,
            model_notice=preset.notice,
            default_strength=preset.strength,
        )

    @classmethod
    def from_files(
        cls,
        checkpoint: Union[str, Path],
        vae_dir: Union[str, Path],
        config: Union[str, Path, MoebiusConfig] = "moebius-0.2b",
    ) -> "InpaintPipeline":
        denoiser = load_denoiser(checkpoint, resolve_config(config))
        return cls(denoiser, resolve_vae(Path(vae_dir)), name=Path(checkpoint).name)

    @torch.no_grad()
    def generate_square(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        noise: torch.Tensor,
        *,
        steps: int = 20,
        guidance_scale: float = 2.5,
        strength: float = 1.0,
        progress: bool = False,
    ) -> torch.Tensor:
        """image [1,3,S,S] in [-1,1] + mask [1,1,S,S] in {0,1} + noise → image [1,3,S,S] in [0,1]."""
        masked_latents = encode_mean(self.vae, masked_image(image, mask, self.config.hole_fill))
        mask_latent = latent_mask(mask, self.config.sample_size)
        clean_latents = None
        if strength < 1:
            clean_latents = start_latents(encode_mean(self.vae, image), masked_latents, mask_latent, self.config.hole_fill)
        latents = sample_latents(
            self.denoiser,
            masked_latents=masked_latents,
            mask_latent=mask_latent,
            noise=noise,
            clean_latents=clean_latents,
            steps=steps,
            strength=strength,
            guidance_scale=guidance_scale,
            progress=progress,
        )
        return decode_to_unit(self.vae, latents)

    def __call__(
        self,
        image: ImageLike,
        mask: ImageLike,
        *,
        steps: int = 20,
        guidance_scale: float = 2.5,
        strength: Optional[float] = None,
        seed: int = 0,
        progress: bool = True,
    ) -> Image.Image:
        steps, guidance_scale, strength, seed = check_sampling(
            steps=steps, guidance_scale=guidance_scale, strength=strength, seed=seed, default_strength=self.default_strength
        )
        if self.notice:
            warn_once(self.notice)

        def generate(square_image, square_mask, noise):
            return self.generate_square(
                square_image,
                square_mask,
                noise,
                steps=steps,
                guidance_scale=guidance_scale,
                strength=strength,
                progress=progress,
            )

        return inpaint_any_size(generate, image, mask, model_size=self.config.image_size, seed=seed)
