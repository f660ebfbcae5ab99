"""Gradient-norm adaptive weights: balance loss terms by the size of the gradients they produce.

Each weight is a ratio of gradient norms on a few probed parameters, detached (it is a coefficient,
not something to optimise) and clamped (one vanishing gradient must not blow a weight up).
"""
from __future__ import annotations

from typing import Iterable, Optional

import torch

EPS = 1e-12


class GradNormWeighting:
    def __init__(self, probe: Iterable[torch.nn.Parameter], clamp: tuple[float, float] = (0.05, 20.0)):
        self.probe = [p for p in probe if p.requires_grad]
        if not self.probe:
            raise ValueError("adaptive weighting needs at least one trainable probe parameter")
        self.clamp = clamp

    def gradient(self, loss: torch.Tensor) -> torch.Tensor:
        """d loss / d probe as one flat detached vector (zeros where the loss does not reach)."""
        grads = torch.autograd.grad(loss, self.probe, retain_graph=True, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).detach().float().flatten() for g, p in zip(grads, self.probe)])

    def ratio(self, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
        """clamp(‖numerator‖ / ‖denominator‖): the weight that gives the denominator's term the numerator's gradient size."""
        low, high = self.clamp
        return (numerator.norm() / (denominator.norm() + EPS)).clamp(low, high).detach()


def combine(
    terms: dict[str, torch.Tensor],
    coefficients: dict[str, float],
    weighting: Optional[GradNormWeighting],
) -> tuple[torch.Tensor, dict[str, float]]:
    """total = c_feat·L_feat + w_task·(c_task·L_task + c_out·w_out·L_out + c_perc·w_perc·L_perc).

    Terms absent from `terms` are left out. w_out and w_perc match their term's gradient to the task
    loss's; w_task matches the whole output group to the feature term. Without a weighting, all w = 1.
    """
    weights = {"w_out": 1.0, "w_perc": 1.0, "w_task": 1.0}
    w = {k: torch.tensor(1.0) for k in weights}
    if weighting is not None:
        grads = {name: weighting.gradient(loss) for name, loss in terms.items()}
        if "out" in terms:
            w["w_out"] = weighting.ratio(grads["task"], grads["out"])
        if "perc" in terms:
            w["w_perc"] = weighting.ratio(grads["task"], grads["perc"])
        if "feat" in terms:
            inner = coefficients["task"] * grads["task"]
            if "out" in terms:
                inner = inner + coefficients["out"] * w["w_out"] * grads["out"]
            if "perc" in terms:
                inner = inner + coefficients["perc"] * w["w_perc"] * grads["perc"]
            w["w_task"] = weighting.ratio(coefficients["feat"] * grads["feat"], inner)
        weights = {k: float(v) for k, v in w.items()}
    inner = coefficients["task"] * terms["task"]
    if "out" in terms:
        inner = inner + coefficients["out"] * w["w_out"] * terms["out"]
    if "perc" in terms:
        inner = inner + coefficients["perc"] * w["w_perc"] * terms["perc"]
    total = w["w_task"] * inner
    if "feat" in terms:
        total = total + coefficients["feat"] * terms["feat"]
    return total, weights
