"""Reduced-precision variants of the deploy graphs that several backends export.

Every variant keeps fp32 inputs and outputs (the casts are inside the exported graph), so the bundle's
interface and host loop are the same whatever precision a graph runs in.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class HalfPrecisionGraph(nn.Module):
    """A graph (a VAE graph, or a step graph already in fp16) run in fp16 behind fp32 inputs and outputs."""

    def __init__(self, graph: nn.Module, convert: bool = True):
        super().__init__()
        # Not `graph`: a GraphModule made from this module has its own `graph` attribute.
        self.wrapped = (copy.deepcopy(graph).half() if convert else graph).eval()

    def forward(self, *inputs):
        outputs = self.wrapped(*(x.half() if x.is_floating_point() else x for x in inputs))
        if isinstance(outputs, tuple):
            return tuple(y.float() for y in outputs)
        return outputs.float()


def half_step(step: nn.Module) -> nn.Module:
    """A copy of the step graph whose denoiser runs in fp16 with the deploy graphs' fp32 islands (λ
    contractions, guidance, DDIM update); inputs and outputs stay fp32 (see edge_sdk.deploy.precision)."""
    from edge_sdk.deploy.precision import set_step_precision

    return set_step_precision(copy.deepcopy(step).eval(), torch.float16, fp32_lambda=True)

