"""Reduced-precision step graphs: the denoiser in fp16/bf16 with fp32 islands where precision is lost.

What stays fp32 (docs/architecture.md, "The deploy graphs"): the guidance combination and the DDIM update (the step graph always
does them in fp32), and, with `fp32_lambda`, the λ layers' softmax over positions, their content
lambdas and the contractions with Q (sums over up to 4,096 positions and 160 channels, no 1/√d).
Convolutions, norms and the MLPs run in the reduced type; GPU kernels accumulate those in fp32 anyway.
"""
from __future__ import annotations

import torch
from torch import nn


def cast(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`tensor.to(dtype)` only when it changes something, so fp32 graphs export without no-op casts."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def set_step_precision(step: nn.Module, dtype: torch.dtype, fp32_lambda: bool = True) -> nn.Module:
    """Cast an fp32 step graph's denoiser to `dtype` in place; λ layers that support it keep fp32 islands.

    Layers opt in with an `fp32_lambda` attribute; the constants named in their `FP32_CONSTANTS` are
    kept at their fp32 values instead of being rounded to `dtype`.
    """
    denoiser = step.denoiser
    islands = fp32_lambda and dtype != torch.float32
    layers = [m for m in denoiser.modules() if hasattr(m, "fp32_lambda")]
    kept = {}
    if islands:
        for layer in layers:
            for name in getattr(layer, "FP32_CONSTANTS", ()):
                # Only stored tensors (a later rewrite may have turned one into a computed attribute).
                stored = layer._parameters.get(name, layer._buffers.get(name))
                if stored is not None:
                    kept[(layer, name)] = stored.detach().to(torch.float32, copy=True)
    denoiser.to(dtype)
    for layer in layers:
        layer.fp32_lambda = islands
    for (layer, name), value in kept.items():
        if name in layer._parameters:
            setattr(layer, name, nn.Parameter(value, requires_grad=False))
        else:
            setattr(layer, name, value)
    return step
