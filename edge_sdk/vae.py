"""The latent autoencoder: diffusers' `AutoencoderKL`, from a local folder or a seeded random preset."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Union

import torch
from diffusers import AutoencoderKL

from edge_sdk.errors import CheckpointError

# PixelHacker's VAE (the one Moebius was trained with): 83.7M parameters, 8× downsampling.
PIXELHACKER_VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2,
    act_fn="silu",
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.13025,
    force_upcast=False,
    mid_block_add_attention=True,
    use_quant_conv=True,
    use_post_quant_conv=True,
)

# Same structure and 8× factor with far fewer channels: fast enough for tests on two CPU cores.
TINY_VAE_CONFIG = dict(PIXELHACKER_VAE_CONFIG, block_out_channels=(32, 32, 64, 64), layers_per_block=1)

# VAE architectures by name (AutoencoderKL arguments).
VAE_CONFIGS = {"pixelhacker": PIXELHACKER_VAE_CONFIG, "tiny": TINY_VAE_CONFIG}


def build_vae(preset: str = "tiny", seed: int = 0) -> AutoencoderKL:
    """A VAE of a preset's architecture with seeded random weights (its pictures are not meaningful)."""
    if preset not in VAE_CONFIGS:
        raise CheckpointError(f"unknown VAE preset {preset!r}: use one of {', '.join(VAE_CONFIGS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKL(**VAE_CONFIGS[preset]).eval()


def check_vae_folder(folder: Union[str, Path]) -> Path:
    """A folder that exists and holds a config.json (its weights are read by `load_vae`)."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"VAE folder not found: {folder}")
    if not folder.is_dir():
        raise CheckpointError(f"VAE {folder} is a file: pass the diffusers VAE folder that holds config.json")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"VAE folder {folder} has no config.json (expected a diffusers AutoencoderKL folder)")
    return folder


def load_vae(folder: Union[str, Path]) -> AutoencoderKL:
    """A diffusers VAE folder (config.json + weights), read from disk only: nothing is downloaded."""
    folder = check_vae_folder(folder)
    config_path = folder / "config.json"
    try:
        if json.loads(config_path.read_text()).get("_class_name", "AutoencoderKL") != "AutoencoderKL":
            raise CheckpointError(f"{config_path} does not describe an AutoencoderKL")
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from None
    try:
        vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True, use_safetensors=None)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"cannot load the VAE from {folder}: {str(exc).splitlines()[0]}") from None
    return vae.eval()


def resolve_vae(vae) -> AutoencoderKL:
    """A VAE object, a folder path or a preset name → an eval-mode AutoencoderKL."""
    if isinstance(vae, AutoencoderKL):
        return vae.eval()
    if isinstance(vae, str) and vae in VAE_CONFIGS:
        return build_vae(vae)
    return load_vae(vae)


@torch.no_grad()
def encode_mean(vae: AutoencoderKL, image: torch.Tensor) -> torch.Tensor:
    """Scaled latent of an image in [-1, 1]: the posterior mean (deterministic; the official code samples)."""
    return vae.encode(image).latent_dist.mean * vae.config.scaling_factor


@torch.no_grad()
def decode_to_unit(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """Image in [0, 1] from a scaled latent."""
    return ((vae.decode(latents / vae.config.scaling_factor).sample + 1) / 2).clamp(0, 1)
