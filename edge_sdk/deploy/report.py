"""`moebius-edge info --model ...`: parameter counts and FLOPs of the step graph before and after optimisation.

Counting needs shapes only, so without a checkpoint the graphs are built on the meta device (instant,
no memory, even for the 0.2B model). With a checkpoint the real weights are loaded, which also checks
that the file fits the config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
from diffusers import AutoencoderKL

from edge_sdk.checkpoint import load_denoiser
from edge_sdk.config import MoebiusConfig, resolve_config
from edge_sdk.errors import ConfigError
from edge_sdk.deploy.census import constant_count, module_counts, parameter_count
from edge_sdk.deploy.flops import count_flops
from edge_sdk.deploy.schedule import ddim_schedule
from edge_sdk.deploy.step import build_step
from edge_sdk.model import MoebiusDenoiser
from edge_sdk.presets import MODEL_PRESETS
from edge_sdk.vae import VAE_CONFIGS



def _preset_vae(model) -> Optional[Union[str, Path]]:
    """The VAE a model preset pairs with: an architecture preset, or the folder of its packaged weights."""
    if not isinstance(model, str) or model not in MODEL_PRESETS:
        return None
    preset = MODEL_PRESETS[model]
    if preset.vae in VAE_CONFIGS:
        return preset.vae
    packaged = getattr(preset, "packaged", None)
    return packaged(preset.vae) if packaged is not None else None


def _meta_vae(vae: Union[str, Path]) -> AutoencoderKL:
    """The VAE's architecture on the meta device, from a preset name or a diffusers folder's config.json."""
    if isinstance(vae, str) and vae in VAE_CONFIGS:
        config = VAE_CONFIGS[vae]
    else:
        config_path = Path(vae) / "config.json"
        if not config_path.is_file():
            raise ConfigError(f"VAE {vae}: not a preset ({', '.join(VAE_CONFIGS)}) nor a folder with config.json")
        config = AutoencoderKL.load_config(str(vae))
    with torch.device("meta"):
        return AutoencoderKL.from_config(config)


def _batch_norm_layers(module) -> int:
    return sum(n for name, n in module_counts(module).items() if name.startswith("BatchNorm"))


def _step_summary(step, inputs) -> dict:
    flops = count_flops(step, inputs)
    return {
        "parameters": parameter_count(step),
        "stored_elements": constant_count(step),
        "flops": flops["total"],
        "flops_by_op": flops["by_op"],
        "batch_norm_layers": _batch_norm_layers(step),
        "conv3d_layers": module_counts(step).get("Conv3d", 0),
    }


def describe_model(
    model: Union[str, Path, MoebiusConfig] = "moebius-0.2b",
    checkpoint: Optional[Union[str, Path]] = None,
    *,
    vae: Optional[Union[str, Path]] = None,
    steps: int = 20,
    strength: float = 1.0,
    guidance_scale: float = 2.5,
) -> dict:
    """Sizes and compute of a model's deployment graphs, as plain numbers (JSON-ready).

    `model` is a preset name, a config YAML or a config; `vae` a VAE preset or folder (default: the
    preset's own VAE, if any) and only adds the VAE's FLOPs to the per-inpaint total.
    """
    name = model if isinstance(model, str) else (model.name if isinstance(model, Path) else "custom")
    config = resolve_config(MODEL_PRESETS[model].config if isinstance(model, str) and model in MODEL_PRESETS else model)
    if vae is None:
        vae = _preset_vae(model)

    if checkpoint is not None:
        denoiser = load_denoiser(checkpoint, config)
    else:
        with torch.device("meta"):
            denoiser = MoebiusDenoiser(config).eval()
    device = next(denoiser.parameters()).device
    schedule = ddim_schedule(steps, strength)
    latent = config.sample_size
    inputs = (
        torch.zeros(1, 4, latent, latent, device=device),
        torch.zeros(1, 4, latent, latent, device=device),
        torch.zeros(1, 1, latent, latent, device=device),
        torch.zeros(1, dtype=torch.int64, device=device),
    )
    steps_run = len(schedule.timesteps)
    report = {
        "model": name,
        "block_out_channels": list(config.block_out_channels),
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "steps": steps,
        "strength": strength,
        "steps_run": steps_run,
        "denoiser_parameters": parameter_count(denoiser),
        "step": {},
    }
    for label, optimize in (("unoptimized", False), ("optimized", True)):
        step = build_step(denoiser, schedule, guidance_scale, optimize=optimize)
        report["step"][label] = _step_summary(step, inputs)
        del step

    report["vae"] = None
    if vae is not None:
        autoencoder = _meta_vae(vae)
        side = config.image_size
        image = torch.zeros(1, 3, side, side, device="meta")
        latents = torch.zeros(1, 4, latent, latent, device="meta")
        report["vae"] = {
            "name": str(vae),
            "parameters": parameter_count(autoencoder),
            "encode_flops": count_flops(autoencoder.encoder, (image,))["total"],
            "decode_flops": count_flops(autoencoder.decoder, (latents,))["total"],
        }
    # The masked image is always encoded; the clean image too when the run starts from it (strength < 1).
    report["vae_encodes"] = 1 if schedule.starts_from_noise else 2
    vae_flops = 0
    if report["vae"]:
        vae_flops = report["vae_encodes"] * report["vae"]["encode_flops"] + report["vae"]["decode_flops"]
    report["run_flops"] = {label: steps_run * s["flops"] + vae_flops for label, s in report["step"].items()}
    return report


def format_model_report(report: dict) -> str:
    """The report as an aligned text table (what `moebius-edge info` prints)."""
    before, after = report["step"]["unoptimized"], report["step"]["optimized"]
    channels = "/".join(str(c) for c in report["block_out_channels"])
    lines = [
        f"model {report['model']} (block_out_channels {channels})"
        + (f", checkpoint {report['checkpoint']}" if report["checkpoint"] else ", architecture only (no checkpoint)"),
        f"denoiser parameters: {report['denoiser_parameters']:,}",
        f"step graph: one CFG step (batch of 2) + DDIM; {report['steps_run']} of {report['steps']} steps baked "
        f"(strength {report['strength']})",
        "",
        f"{'':32}{'unoptimized':>16}{'optimized':>16}{'change':>16}",
    ]

    def row(label, key, scale=None):
        a, b = before[key], after[key]
        if scale is None:
            cells = (f"{a:,}", f"{b:,}", f"{b - a:+,}")
        else:
            cells = (f"{a / scale:,.2f}", f"{b / scale:,.2f}", f"{(b - a) / a:+.2%}" if a else "")
        lines.append(f"{label:32}" + "".join(f"{cell:>16}" for cell in cells))

    row("parameters", "parameters")
    row("stored tensors (params+buffers)", "stored_elements")
    row("GFLOP per step", "flops", scale=1e9)
    row("BatchNorm layers", "batch_norm_layers")
    row("Conv3d layers", "conv3d_layers")
    if report["vae"]:
        vae = report["vae"]
        lines.append(
            f"VAE {vae['name']}: {vae['parameters']:,} parameters, {vae['encode_flops'] / 1e9:,.1f} GFLOP per encode, "
            f"{vae['decode_flops'] / 1e9:,.1f} GFLOP per decode"
        )
    what = f"{report['steps_run']} steps" + (f" + {report['vae_encodes']} encode(s) + decode" if report["vae"] else "")
    lines.append(
        f"per inpaint ({what}): {report['run_flops']['unoptimized'] / 1e12:,.2f} TFLOP unoptimized, "
        f"{report['run_flops']['optimized'] / 1e12:,.2f} TFLOP optimized"
    )
    lines.append("FLOPs: 2 per multiply-accumulate, convolutions and matrix products only (torch FlopCounterMode)")
    return "\n".join(lines)
