"""The decode graph: final latent [B,4,64,64] (scaled) → image [B,3,512,512] in [0,1]."""
from __future__ import annotations

import copy

import torch
from diffusers import AutoencoderKL
from torch import nn

from edge_sdk.deploy.passes.resnet_shortcut_first import resnet_shortcut_first
from edge_sdk.deploy.passes.upsample_as_phase_convolution import upsample_as_phase_convolution


class DecodeGraph(nn.Module):
    def __init__(self, vae: AutoencoderKL, optimize: bool = True):
        super().__init__()
        # The VAE's own decoder modules; optimized, the decoder is a copy whose upsamplers run as phase
        # convolutions (exact up to float rounding) and whose ResNet blocks take their shortcut first (less
        # memory alive), else the VAE's own (the official computation).
        self.post_quant_conv = vae.post_quant_conv
        if optimize:
            self.decoder = resnet_shortcut_first(upsample_as_phase_convolution(copy.deepcopy(vae.decoder)))
        else:
            self.decoder = vae.decoder
        self.scaling_factor = float(vae.config.scaling_factor)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents / self.scaling_factor
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return ((self.decoder(z) + 1) / 2).clamp(0, 1)
