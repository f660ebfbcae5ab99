"""The PyTorch eager fp32 reference of a bundle's model: the unoptimized deploy graphs (the official
computation, module for module) with the bundle's baked schedule and guidance.

The weights are rebuilt from the manifest's `model_source`: seeded random weights for random presets, the
packaged weights for presets that ship them, or the files a user passes (`checkpoint`, `vae`), whose
sha256 must match the one recorded at export.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from edge_sdk.errors import EdgeSDKError


class ReferenceModelError(EdgeSDKError):
    """The fp32 reference model of a bundle cannot be rebuilt (missing or different weights)."""


def model_key(manifest) -> dict:
    """What must be equal for bundles to share one reference (a bundle's Manifest): model, weights, size and
    schedule."""
    return {
        "model": manifest.model_name,
        # The architecture itself: a preset's bundle may record its config or only its name.
        "config": _config(manifest.source, manifest.model_name).to_dict(),
        "checkpoint_sha256": manifest.source.get("checkpoint_sha256"),
        "image_size": manifest.image_size,
        "timesteps": list(manifest.timesteps),
        "strength": manifest.strength,
        "guidance_scale": manifest.guidance_scale,
    }


def _config(source: dict, name: str):
    from edge_sdk.config import MoebiusConfig, resolve_config

    if source.get("config"):
        return MoebiusConfig.from_dict(source["config"], source="bundle manifest model_source.config")
    return resolve_config(name)


def reference_models(manifest, checkpoint: Optional[Path] = None, vae: Optional[Path] = None):
    """(denoiser, vae) in fp32, the same weights the bundle (its Manifest) was exported from."""
    from edge_sdk.bundle.files import sha256_file
    from edge_sdk.checkpoint import load_denoiser
    from edge_sdk.presets import MODEL_PRESETS
    from edge_sdk.vae import build_vae, resolve_vae

    source, name = manifest.source, manifest.model_name
    config = _config(source, name)
    if checkpoint is not None:
        expected = source.get("checkpoint_sha256")
        if expected and sha256_file(Path(checkpoint)) != expected:
            raise ReferenceModelError(f"{checkpoint} is not the checkpoint the bundle was exported from (sha256 differs from the manifest's)")
        if vae is None:
            raise ReferenceModelError("--checkpoint needs --vae: the reference pipeline needs the VAE the bundle was exported with")
        return load_denoiser(checkpoint, config), resolve_vae(Path(vae)).float()
    if source.get("random_weights") or (name in MODEL_PRESETS and MODEL_PRESETS[name].random):
        vae_preset = source.get("vae") or (MODEL_PRESETS[name].vae if name in MODEL_PRESETS else None)
        if vae_preset is None:
            raise ReferenceModelError(f"the manifest of model {name!r} names no VAE preset: pass --checkpoint and --vae")
        return load_denoiser(None, config), build_vae(vae_preset)
    if name in MODEL_PRESETS:
        from edge_sdk.pipeline import InpaintPipeline

        pipe = InpaintPipeline.from_preset(name)
        return pipe.denoiser.float(), pipe.vae.float()
    raise ReferenceModelError(
        f"the bundle was exported from checkpoint {source.get('checkpoint') or 'unknown'}: pass --checkpoint and --vae "
        "so the fp32 reference runs the same weights"
    )


def reference_graphs(manifest, checkpoint: Optional[Path] = None, vae: Optional[Path] = None):
    """Unoptimized fp32 `DeployGraphs` with the manifest's steps, strength and guidance."""
    from edge_sdk.deploy import DeployGraphs

    denoiser, vae_model = reference_models(manifest, checkpoint, vae)
    graphs = DeployGraphs.build(
        denoiser.float(),
        vae_model.float(),
        steps=manifest.baked_steps,
        strength=float(manifest.strength),
        guidance_scale=float(manifest.guidance_scale),
        optimize=False,
    )
    if graphs.timesteps != list(manifest.timesteps):
        raise ReferenceModelError(
            f"the rebuilt schedule {graphs.timesteps} differs from the bundle's baked timesteps {manifest.timesteps}"
        )
    return graphs
