"""The encode graph: image and mask → the latents the step graph conditions on.

forward(image [B,3,512,512] in [−1,1], mask [B,1,512,512] float {0,1}, 1 = hole) →
(masked_latents [B,4,64,64], mask_latent [B,1,64,64]) and, when the run starts from the image
(strength < 1), clean_latents [B,4,64,64] too: the image's latents, with the fill's inside the hole
when the hole is filled (edge_sdk.hole_fill.start_latents). Latents are scaled by the VAE factor.
Deterministic: the posterior mean, where the official pipeline draws `.sample()`. The hole is zeroed or
filled as the model's config says (edge_sdk.hole_fill), inside the graph, so runners pass the raw image.
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from torch import nn

from edge_sdk.hole_fill import masked_image, start_latents


class EncodeGraph(nn.Module):
    def __init__(self, vae: AutoencoderKL, with_clean_latents: bool, hole_fill: str = "zero"):
        super().__init__()
        # The VAE's own encoder modules, exported as they are (shared with `vae`, not copied).
        self.encoder = vae.encoder
        self.quant_conv = vae.quant_conv
        self.scaling_factor = float(vae.config.scaling_factor)
        self.latent_channels = int(vae.config.latent_channels)
        self.with_clean_latents = with_clean_latents
        self.hole_fill = hole_fill
        # Their copies for the clean image's pass (strength < 1), made by `with_unshared_weights` only.
        self.clean_encoder: Optional[nn.Module] = None
        self.clean_quant_conv: Optional[nn.Module] = None

    def with_unshared_weights(self) -> "EncodeGraph":
        """A copy whose clean-image pass has its own copy of the encoder's weights (same values).

        For the int8 graphs: XNNPACK (ExecuTorch 1.5.1) cannot load a graph where two convolutions read one
        int8 filter ("Failed to create convolution node ...: xnn_status_invalid_parameter"), which the two
        encoder passes of strength < 1 do. The cost is a second copy of the encoder's int8 weights in that graph.
        Without the clean-image pass nothing is shared: `self` is returned.
        """
        if not self.with_clean_latents:
            return self
        unshared = copy.deepcopy(self)
        unshared.clean_encoder = copy.deepcopy(self.encoder)
        unshared.clean_quant_conv = copy.deepcopy(self.quant_conv)
        return unshared

    def posterior_mean(self, image: torch.Tensor, clean: bool = False) -> torch.Tensor:
        encoder, quant_conv = self.encoder, self.quant_conv
        if clean and self.clean_encoder is not None:
            encoder, quant_conv = self.clean_encoder, self.clean_quant_conv
        moments = encoder(image)
        if quant_conv is not None:
            moments = quant_conv(moments)
        return moments[:, : self.latent_channels] * self.scaling_factor

    def forward(self, image: torch.Tensor, mask: torch.Tensor):
        masked_latents = self.posterior_mean(masked_image(image, mask, self.hole_fill))
        # Nearest picks the top-left pixel of every 8×8 cell, as the official pipeline does.
        mask_latent = F.interpolate(mask, size=masked_latents.shape[-2:], mode="nearest")
        if not self.with_clean_latents:
            return masked_latents, mask_latent
        clean_latents = self.posterior_mean(image, clean=True)
        return masked_latents, mask_latent, start_latents(clean_latents, masked_latents, mask_latent, self.hole_fill)
