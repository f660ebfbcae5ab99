"""What may go to int8 in the step graph, what stays out by default, and why.

Weights: int8, symmetric, one scale per output channel. Activations: int8, one scale and zero point per
tensor, range from the chosen observer (see `observers`). A layer is a `Conv2d` or `Linear` module of the
step graph, named by its path in it (e.g. ``denoiser.down_blocks.0.resnets.1.conv1.conv_pw``).

Kept out of int8 by default, with the reason written into every recipe and report:
- the timestep-embedding path: quantizing ``t·freqs`` before sin/cos destroys the embedding (relative error
  0.3 instead of 0.035 in the toolchain notes), and what follows it is a function of t alone;
- ``conv_in``: it reads the noisy latent, the mask and the masked-image latent, three inputs of different
  scales in one tensor;
- ``conv_out``: it writes ε itself, and its error enters every DDIM update unfiltered;
- the softmax and normalisation internals of the λ layers: Local-λ's key projection feeds a softmax over
  every position, and the λ contractions sum over up to 4,096 positions without 1/√d.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from torch import nn

from edge_sdk.calibration.observers import OBSERVERS

# int8: int8 weights (symmetric, per output channel) and int8 activations (per tensor); w8: int8 weights,
# float activations; fp16: half-precision weights and activations; fp32: full precision.
PRECISIONS = ("int8", "w8", "fp16", "fp32")
DEFAULT_OBSERVER = "mse"

TIMESTEP_REASON = (
    "timestep-embedding path: quantizing t·freqs before sin/cos destroys the embedding, and this input is a "
    "function of the timestep alone (negligible compute)"
)
CONV_IN_REASON = "conv_in: reads the noisy latent, the mask and the masked-image latent (three scales) in one tensor"
CONV_OUT_REASON = "conv_out: writes ε itself; its error enters every DDIM update unfiltered"
LOCAL_KEY_REASON = "λ softmax input: Local-λ's keys go through a softmax over every position"
CONTEXT_REASON = "category context: constant per CFG branch (the deploy passes fold it into constants)"
LAMBDA_INTERNALS_REASON = (
    "λ internals (softmax, content and position contractions over up to 4,096 positions, no 1/√d): "
    "never annotated for int8"
)
STEP_MATH_REASON = "CFG guidance and DDIM update: the step graph keeps them in fp32 (x̂0 divides by √ᾱ ≈ 0.07)"


@dataclasses.dataclass(frozen=True)
class Exclusion:
    name: str
    reason: str

    def to_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason}


@dataclasses.dataclass(frozen=True)
class QuantPolicy:
    """Which layers are candidates for int8, and the activation observer they use."""

    observer: str = DEFAULT_OBSERVER
    exclude_timestep_path: bool = True
    exclude_conv_in: bool = True
    exclude_conv_out: bool = True
    exclude_lambda_internals: bool = True
    # Further layers (exact names or name prefixes ending in '.') to keep in fp32.
    extra_exclusions: tuple[str, ...] = ()

    def __post_init__(self):
        if self.observer not in OBSERVERS:
            raise ValueError(f"unknown observer {self.observer!r}; expected one of {', '.join(OBSERVERS)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"extra_exclusions": list(self.extra_exclusions)}


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """The step graph's quantizable layers split into int8 candidates and exclusions (with reasons)."""

    candidates: tuple[str, ...]
    excluded_layers: tuple[Exclusion, ...]  # Conv2d/Linear layers kept in fp32
    excluded_ops: tuple[Exclusion, ...]  # parts that are not layers (λ internals, the step math)

    @property
    def excluded(self) -> list[Exclusion]:
        return list(self.excluded_layers) + list(self.excluded_ops)


def quantizable_layers(step: nn.Module) -> list[str]:
    """Names of the step graph's Conv2d and Linear modules, in registration order."""
    return [name for name, module in step.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]


def plan_layers(step: nn.Module, policy: QuantPolicy = QuantPolicy()) -> LayerPlan:
    """Split `step`'s layers by `policy`; raises ValueError for an extra exclusion that matches nothing."""
    names = quantizable_layers(step)
    modules = dict(step.named_modules())
    candidates, excluded = [], []
    for name in names:
        reason = _exclusion_reason(name, modules, policy)
        if reason is None:
            candidates.append(name)
        else:
            excluded.append(Exclusion(name, reason))
    for pattern in policy.extra_exclusions:
        if not any(_matches(name, pattern) for name in names):
            raise ValueError(f"excluded layer {pattern!r} is not a Conv2d/Linear layer of the step graph")
    ops = [Exclusion(f"{name} (softmax, λ contractions)", LAMBDA_INTERNALS_REASON) for name in _lambda_layers(modules)]
    ops.append(Exclusion("step (guidance, DDIM update)", STEP_MATH_REASON))
    return LayerPlan(tuple(candidates), tuple(excluded), tuple(ops))


def _exclusion_reason(name: str, modules: dict, policy: QuantPolicy) -> Optional[str]:
    parts = name.split(".")
    if policy.exclude_timestep_path and (parts[-1] == "time_emb_proj" or ".time." in f".{name}."):
        return TIMESTEP_REASON
    if policy.exclude_conv_in and ".conv_in." in f".{name}.":
        return CONV_IN_REASON
    if policy.exclude_conv_out and ".conv_out." in f".{name}.":
        return CONV_OUT_REASON
    owner = modules.get(".".join(parts[:-1]))
    # An unfolded Interactive-λ's keys and values are projections of the category context.
    if ".context." in f".{name}." or (parts[-1] in ("to_k", "to_v") and type(owner).__name__ == "InteractiveLambda"):
        return CONTEXT_REASON
    if policy.exclude_lambda_internals and parts[-1] == "to_k" and type(owner).__name__ in _LOCAL_LAMBDA_TYPES:
        return LOCAL_KEY_REASON
    for pattern in policy.extra_exclusions:
        if _matches(name, pattern):
            return "excluded by the user"
    return None


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or (pattern.endswith(".") and name.startswith(pattern))


# By class name: the deploy passes' rewritten λ layers live in edge_sdk.deploy, the originals in edge_sdk.model.
_LOCAL_LAMBDA_TYPES = ("LocalLambda", "LocalLambdaConv2d", "MapLocalLambda", "RelativeScoreLocalLambda")
_LAMBDA_TYPES = _LOCAL_LAMBDA_TYPES + ("InteractiveLambda", "FoldedInteractiveLambda", "MapInteractiveLambda")


def _lambda_layers(modules: dict) -> Iterable[str]:
    return [name for name, module in modules.items() if type(module).__name__ in _LAMBDA_TYPES]
