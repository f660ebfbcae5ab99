"""`DeployGraphs`: the three graphs every backend and binding consumes, and the schedule they bake in.

    graphs = DeployGraphs.build(denoiser, vae, steps=20, strength=1.0, guidance_scale=2.5, optimize=True)
    masked_latents, mask_latent, *clean = graphs.encode(image, mask)
    x = graphs.start_latent(noise, *clean)
    for i in range(len(graphs.timesteps)):
        x = graphs.step(x, masked_latents, mask_latent, torch.tensor([i]))
    image = graphs.decode(x)
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional

import torch
from torch import nn

from edge_sdk.config import MoebiusConfig
from edge_sdk.deploy import host_loop
from edge_sdk.deploy.decode import DecodeGraph
from edge_sdk.deploy.encode import EncodeGraph
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.deploy.schedule import DDIMSchedule, ddim_schedule
from edge_sdk.deploy.step import StepGraph, build_step
from edge_sdk.deploy.tiled_decode import DecodeTiling, decode_maybe_tiled
from edge_sdk.model import MoebiusDenoiser
from edge_sdk.vae import resolve_vae

EXAMPLE_SEED = 0


@dataclasses.dataclass
class DeployGraphs:
    encode: EncodeGraph
    step: StepGraph
    decode: DecodeGraph
    schedule: DDIMSchedule
    guidance_scale: float
    optimized: bool
    config: MoebiusConfig
    # Set (`with_decode_tiling`): the decode graph is exported for one latent tile and run tile by tile.
    decode_tiling: Optional[DecodeTiling] = None

    @classmethod
    def build(
        cls,
        denoiser: MoebiusDenoiser,
        vae,
        *,
        steps: int = 20,
        strength: float = 1.0,
        guidance_scale: float = 2.5,
        optimize: bool = True,
    ) -> "DeployGraphs":
        """Build the graphs; `vae` is an AutoencoderKL, a VAE folder or a preset name ('tiny', 'pixelhacker').

        The denoiser and VAE are not modified: with `optimize` the step graph and the decoder are rewritten
        copies, otherwise the graphs share their modules (the official computation).
        """
        vae = resolve_vae(vae)
        schedule = ddim_schedule(steps, strength)
        return cls(
            encode=EncodeGraph(vae, with_clean_latents=not schedule.starts_from_noise, hole_fill=denoiser.config.hole_fill).eval(),
            step=build_step(denoiser.eval(), schedule, guidance_scale, optimize=optimize),
            decode=DecodeGraph(vae, optimize=optimize).eval(),
            schedule=schedule,
            guidance_scale=float(guidance_scale),
            optimized=optimize,
            config=denoiser.config,
        )

    def with_decode_tiling(self, tiling: Optional[DecodeTiling]) -> "DeployGraphs":
        """These graphs (the same modules) with the decode graph taking `tiling.tile`² latent tiles."""
        if tiling is not None:
            tiling.check(self.config.sample_size)
        return dataclasses.replace(self, decode_tiling=tiling)

    @property
    def decode_latent_size(self) -> int:
        """The decode graph's latent side: a tile's when tiled."""
        return self.decode_tiling.tile if self.decode_tiling is not None else self.config.sample_size

    def decode_image(self, latents: torch.Tensor) -> torch.Tensor:
        """The whole latent decoded as the bundle's host does it: at once, or tile by tile."""
        return decode_maybe_tiled(self.decode, latents, self.decode_tiling)

    @property
    def timesteps(self) -> list[int]:
        return list(self.schedule.timesteps)

    def modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in GRAPH_NAMES}

    def metadata(self) -> dict:
        """What an app needs beside the three graphs: the baked schedule, guidance and tensor shapes."""
        side, latent = self.config.image_size, self.config.sample_size
        return {
            **self.schedule.to_dict(),
            "guidance_scale": self.guidance_scale,
            "optimized": self.optimized,
            "image_shape": [1, 3, side, side],
            "mask_shape": [1, 1, side, side],
            "latent_shape": [1, 4, latent, latent],
            "mask_latent_shape": [1, 1, latent, latent],
            "encode_outputs": ["masked_latents", "mask_latent"] + ([] if self.schedule.starts_from_noise else ["clean_latents"]),
        }

    def start_latent(self, noise: torch.Tensor, clean_latents: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The first x: the noise itself at strength ≥ 1, else add_noise(clean, noise, timesteps[0])."""
        return host_loop.start_latent(self.schedule, noise, clean_latents)

    def denoise(self, x, masked_latents, mask_latent) -> torch.Tensor:
        """The app-side loop: every baked step, in order."""
        return host_loop.denoise(self.step, self.schedule, x, masked_latents, mask_latent)

    def run(self, image: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """image [1,3,512,512] in [−1,1], mask [1,1,512,512] in {0,1}, noise [1,4,64,64] → image in [0,1]."""
        vae_dtype = next(self.decode.parameters()).dtype
        return host_loop.run_loop(self.encode, self.step, lambda x: self.decode_image(x.to(vae_dtype)), self.schedule, image, mask, noise)

    def example_inputs(self, batch: int = 1) -> dict[str, tuple]:
        """Inputs of the deployed shapes for each graph (seeded, on the graphs' device)."""
        side, latent = self.config.image_size, self.config.sample_size
        vae_param = next(self.encode.parameters())
        device, vae_dtype = vae_param.device, vae_param.dtype
        generator = torch.Generator().manual_seed(EXAMPLE_SEED)

        def randn(*shape, dtype=torch.float32):
            return torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)

        image = (torch.rand(batch, 3, side, side, generator=generator) * 2 - 1).to(device=device, dtype=vae_dtype)
        mask = (torch.rand(batch, 1, side, side, generator=generator) > 0.5).to(device=device, dtype=vae_dtype)
        mask_latent = (torch.rand(batch, 1, latent, latent, generator=generator) > 0.5).to(device=device)
        step = (
            randn(batch, 4, latent, latent),
            randn(batch, 4, latent, latent),
            mask_latent.to(torch.float32),
            torch.tensor([0], dtype=torch.int64, device=device),
        )
        tile = self.decode_latent_size
        return {"encode": (image, mask), "step": step, "decode": (randn(batch, 4, tile, tile, dtype=vae_dtype),)}

    def export(self, names=GRAPH_NAMES, strict: bool = True, timings: Optional[dict] = None) -> dict:
        """`torch.export.export` of each graph with static shapes: {name: ExportedProgram}.

        `strict=True` traces with TorchDynamo, which refuses graph breaks instead of working around them.
        """
        inputs = self.example_inputs()
        programs = {}
        for name in names:
            start = time.perf_counter()
            with torch.no_grad():
                programs[name] = torch.export.export(getattr(self, name), inputs[name], strict=strict)
            if timings is not None:
                timings[name] = time.perf_counter() - start
        return programs
