"""The distillation loss terms: feature, output, task and an optional latent perceptual term.

All work on latents only; no VAE decode happens in the training loop.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def task_loss(eps_student: torch.Tensor, noise: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """ε-prediction MSE against the noise that was actually added; `weight` scales each sample's MSE."""
    if weight is None:
        return F.mse_loss(eps_student.float(), noise.float())
    per_sample = (eps_student.float() - noise.float()).pow(2).flatten(1).mean(1)
    return (weight.float() * per_sample).mean()


def output_distillation_loss(eps_student: torch.Tensor, eps_teacher: torch.Tensor) -> torch.Tensor:
    """ε of the student against ε of the teacher (the teacher is a fixed target)."""
    return F.mse_loss(eps_student.float(), eps_teacher.detach().float())


class FeatureProjector(nn.Module):
    """1×1 conv from the student's channel count to the teacher's; identity when they already match."""

    def __init__(self, student_channels: int, teacher_channels: int):
        super().__init__()
        self.proj = (
            nn.Conv2d(student_channels, teacher_channels, 1, bias=False) if student_channels != teacher_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def feature_distillation_loss(student_feature: torch.Tensor, teacher_feature: torch.Tensor, projector: nn.Module) -> torch.Tensor:
    """MSE between the projected student feature map and the teacher's, at the teacher's resolution."""
    projected = projector(student_feature.float())
    target = teacher_feature.detach().float()
    if projected.shape[-2:] != target.shape[-2:]:
        projected = F.interpolate(projected, size=target.shape[-2:], mode="bilinear", align_corners=False)
    return F.mse_loss(projected, target)


def predicted_clean_latents(noisy: torch.Tensor, eps: torch.Tensor, alphas_cumprod_t: torch.Tensor) -> torch.Tensor:
    """x̂₀ = (x_t − √(1−ᾱ)·ε̂) / √ᾱ, per sample."""
    a = alphas_cumprod_t.float().reshape(-1, 1, 1, 1)
    return (noisy.float() - (1 - a).sqrt() * eps.float()) / a.sqrt()


def latent_perceptual_loss(predicted: torch.Tensor, target: torch.Tensor, scales=(1, 2, 4)) -> torch.Tensor:
    """Multi-scale L1 between predicted and true clean latents.

    A cheap stand-in for a learned latent perceptual metric: coarse scales reward getting the layout
    and colour of a fill right even where fine detail is uncertain.
    """
    total = predicted.new_zeros(())
    for s in scales:
        p = F.avg_pool2d(predicted, s) if s > 1 else predicted
        t = F.avg_pool2d(target, s) if s > 1 else target
        total = total + F.l1_loss(p, t.detach())
    return total / len(scales)
