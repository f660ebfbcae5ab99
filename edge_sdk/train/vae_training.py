"""Training a small latent autoencoder (diffusers `AutoencoderKL`) with reconstruction and KL losses.

The result is a regular diffusers VAE folder (config.json + fp16 safetensors) whose `scaling_factor`
is measured on the training crops, so latents fed to the denoiser have unit standard deviation.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from tqdm.auto import tqdm

from edge_sdk.atomic_files import publish_folder
from edge_sdk.train.checkpointing import CsvLog, load_training_state, save_training_state
from edge_sdk.train.data import PhotoCrops
from edge_sdk.vae import PIXELHACKER_VAE_CONFIG

# 8× downsampling to 4 latent channels like PixelHacker's VAE, with far fewer channels (16 at full
# resolution: convolutions there dominate the cost) and no mid-block attention (a 64×64 self-attention
# is the costliest part of a small VAE on a phone).
NANO_VAE_CONFIG = dict(
    PIXELHACKER_VAE_CONFIG,
    block_out_channels=(16, 32, 64, 128),
    layers_per_block=1,
    norm_num_groups=8,
    scaling_factor=1.0,
    mid_block_add_attention=False,
)


@dataclasses.dataclass
class VaeTrainConfig:
    steps: int = 4000
    batch_size: int = 4
    crop: int = 128
    lr: float = 5e-4
    kl_weight: float = 1e-6
    mse_weight: float = 1.0  # L1 + MSE: L1 keeps edges, MSE the PSNR we report
    seed: int = 0
    # Decoder-only fine-tuning keeps the encoder, hence the latent space and its scaling factor, fixed:
    # it can run while a denoiser trains on latents from the same encoder.
    decoder_only: bool = False
    # Share of decoder inputs replaced by box-smoothed latents (radius 1–5 cells, up to a box hole's width)
    # with the image smoothed to match. Left alone, the decoder paints the average of grass latents brown,
    # and an undertrained denoiser's fill is such an average: with this it paints it the grass's green.
    smoothed_latent_share: float = 0.0
    checkpoint_every: int = 200
    log_every: int = 10


def box_smooth(x: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over a size×size window (odd size) at every position, edges replicated; separable."""
    pad = size // 2
    x = F.avg_pool2d(F.pad(x, (pad, pad, 0, 0), mode="replicate"), (1, size), stride=1)
    return F.avg_pool2d(F.pad(x, (0, 0, pad, pad), mode="replicate"), (size, 1), stride=1)


def smooth_some(
    latents: torch.Tensor, images: torch.Tensor, share: float, generator: torch.Generator, factor: int = 8, max_radius: int = 5
):
    """Replace a random `share` of the (latent, image) pairs by both smoothed over the same extent."""
    latents, images = latents.clone(), images.clone()
    for i in range(len(latents)):
        if float(torch.rand((), generator=generator)) >= share:
            continue
        radius = int(torch.randint(1, max_radius + 1, (), generator=generator))
        latents[i : i + 1] = box_smooth(latents[i : i + 1], 2 * radius + 1)
        images[i : i + 1] = box_smooth(images[i : i + 1], factor * (2 * radius + 1) - 1)
    return latents, images


def vae_loss(vae: AutoencoderKL, images: torch.Tensor, config: VaeTrainConfig, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    if config.decoder_only:
        with torch.no_grad():
            posterior = vae.encode(images).latent_dist
        latents = posterior.mean  # what the decoder gets at inference: denoised latents, not samples
        if config.smoothed_latent_share:
            latents, images = smooth_some(latents, images, config.smoothed_latent_share, generator)
    else:
        posterior = vae.encode(images).latent_dist
        latents = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
    recon = vae.decode(latents).sample
    l1 = (recon - images).abs().mean()
    mse = (recon - images).square().mean()
    kl = posterior.kl().mean() / latents[0].numel()
    loss = l1 + config.mse_weight * mse + config.kl_weight * kl
    psnr = 10 * torch.log10(4.0 / mse.detach())  # images span [-1, 1]: peak-to-peak 2
    return loss, {"loss": loss.item(), "l1": l1.item(), "mse": mse.item(), "kl": kl.item(), "psnr": psnr.item()}


def train_vae(
    crops: PhotoCrops,
    out_dir: Path,
    config: VaeTrainConfig,
    *,
    time_budget_s: Optional[float] = None,
    progress: bool = True,
    init_state: Optional[Path] = None,
) -> Path:
    """Train (resuming from `out_dir/state.pt` if present, else starting from `init_state`'s weights);
    returns the state path. Stops early at the time budget."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / "state.pt"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        vae = AutoencoderKL(**NANO_VAE_CONFIG)
    if init_state is not None:
        vae.load_state_dict(torch.load(init_state, map_location="cpu", weights_only=True)["modules"]["vae"])
    if config.decoder_only:
        vae.encoder.requires_grad_(False)
        vae.quant_conv.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=config.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.Generator(np.random.PCG64(config.seed))
    step = 0
    if state_path.is_file():
        extra = load_training_state(state_path, {"vae": vae}, optimizer, generator)
        step = extra["step"]
        rng.bit_generator.state = extra["numpy_rng"]
    log = CsvLog(out_dir / "log.csv", ["step", "loss", "l1", "mse", "kl", "psnr", "seconds"])
    started = time.monotonic()
    vae.train()
    if config.decoder_only:
        vae.encoder.eval()
    with tqdm(total=config.steps, initial=step, desc="vae", disable=not progress) as bar:
        while step < config.steps:
            # Cosine decay to 10% keeps the last steps from undoing the fit.
            lr = float(config.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / config.steps))))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, terms = vae_loss(vae, crops.batch(config.batch_size, rng), config, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
            optimizer.step()
            step += 1
            bar.update(1)
            bar.set_postfix(psnr=f"{terms['psnr']:.2f}")
            if step % config.log_every == 0:
                log.write({"step": step, **terms, "seconds": time.monotonic() - started})
            out_of_time = time_budget_s is not None and time.monotonic() - started > time_budget_s
            if step % config.checkpoint_every == 0 or step == config.steps or out_of_time:
                save_training_state(state_path, {"vae": vae}, optimizer, generator, step=step, numpy_rng=rng.bit_generator.state)
            if out_of_time:
                break
    return state_path


@torch.no_grad()
def measure_scaling_factor(vae: AutoencoderKL, crops: PhotoCrops, count: int = 32, seed: int = 1) -> float:
    """1 / std of the posterior means on random crops: the factor that gives the denoiser unit-variance latents."""
    rng = np.random.Generator(np.random.PCG64(seed))
    means = [vae.encode(crops.batch(1, rng)).latent_dist.mean for _ in range(count)]
    return float(1.0 / torch.cat(means).std())


def export_vae_folder(state_path: Path, folder: Path, crops: PhotoCrops, scaling_factor: Optional[float] = None) -> AutoencoderKL:
    """Write a diffusers VAE folder (fp16 safetensors) from a training state, with the measured scaling factor
    (or the given one: after decoder-only fine-tuning the encoder, hence the factor, is unchanged)."""
    vae = AutoencoderKL(**NANO_VAE_CONFIG)
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    vae.load_state_dict(state["modules"]["vae"])
    vae.eval()
    factor = scaling_factor if scaling_factor is not None else measure_scaling_factor(vae, crops)
    vae.register_to_config(scaling_factor=round(factor, 5))
    vae.to(torch.float16)
    publish_folder(lambda staging: vae.save_pretrained(str(staging), safe_serialization=True), folder)
    return vae.float()

