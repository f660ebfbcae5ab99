"""Capturing an intermediate feature map of a named submodule (student or teacher) with a forward hook."""
from __future__ import annotations

import math

import torch
from torch import nn

from edge_sdk.errors import ConfigError


def as_feature_map(output) -> torch.Tensor:
    """A module output as [B, C, H, W]: tuples give their first item, token sequences [B, N, C] become square maps."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.ndim == 3:
        b, n, c = output.shape
        side = math.isqrt(n)
        return output.transpose(1, 2).reshape(b, c, side, side)
    return output


class FeatureTap:
    """Keeps the latest output of `model.<name>`; remove() detaches the hook."""

    def __init__(self, model: nn.Module, name: str):
        modules = dict(model.named_modules())
        if name not in modules:
            raise ConfigError(f"no module named {name!r} to take a feature from (e.g. diff_model.up_blocks.1)")
        self.name = name
        self.module = modules[name]
        self.value = None
        self._handle = self.module.register_forward_hook(self._store)

    def _store(self, module, inputs, output):
        self.value = as_feature_map(output)

    def take(self) -> torch.Tensor:
        if self.value is None:
            raise RuntimeError(f"feature {self.name} was not computed in the last forward pass")
        value, self.value = self.value, None
        return value

    def remove(self) -> None:
        self._handle.remove()


@torch.no_grad()
def feature_channels(model: nn.Module, name: str, example_inputs: tuple) -> int:
    """Channel count of a named feature, found by one forward pass (modules do not declare it uniformly)."""
    tap = FeatureTap(model, name)
    try:
        was_training = model.training
        model.eval()
        model(*example_inputs)
        model.train(was_training)
        return int(tap.take().shape[1])
    finally:
        tap.remove()
