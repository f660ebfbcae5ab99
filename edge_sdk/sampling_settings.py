"""Checking the sampling settings (steps, guidance, strength, seed): one set of rules for the CLI and Python.

Each check returns the value as the samplers take it, or raises SettingError with a one-line message that
names the setting as the caller spells it (`--guidance` on the command line, `guidance_scale` in Python).
"""
from __future__ import annotations

import math
import numbers
from typing import Mapping, Optional

from edge_sdk.errors import EdgeSDKError

# DDIM picks `steps` of the scheduler's 1000 training timesteps: more steps than that do not exist.
MAX_STEPS = 1000
# Guidance past this saturates colours long before it helps; 0 is the unconditional branch alone.
MAX_GUIDANCE = 20.0
# Seeds feed torch.Generator.manual_seed and the C++/web runtimes' uint64 seeds.
SEED_LIMIT = 2**64

PYTHON_NAMES = {"steps": "steps", "guidance_scale": "guidance_scale", "strength": "strength", "seed": "seed"}
CLI_NAMES = {"steps": "--steps", "guidance_scale": "--guidance", "strength": "--strength", "seed": "--seed"}


class SettingError(EdgeSDKError, ValueError):
    """A sampling setting out of its range or of the wrong type (a ValueError too, as before)."""


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_steps(steps, name: str = "steps") -> int:
    if not _is_integer(steps):
        raise SettingError(f"{name} must be a whole number, got {steps!r}")
    if not 1 <= steps <= MAX_STEPS:
        raise SettingError(f"{name} must be between 1 and {MAX_STEPS} (the scheduler's training timesteps), got {steps}")
    return int(steps)


def check_guidance(guidance_scale, name: str = "guidance_scale") -> float:
    if not _is_real(guidance_scale) or not math.isfinite(guidance_scale):
        raise SettingError(f"{name} must be a finite number, got {guidance_scale!r}")
    if not 0.0 <= guidance_scale <= MAX_GUIDANCE:
        raise SettingError(f"{name} must be between 0 and {MAX_GUIDANCE:g} (1 is no guidance), got {guidance_scale:g}")
    return float(guidance_scale)


def check_strength(strength, name: str = "strength") -> float:
    if not _is_real(strength) or not math.isfinite(strength):
        raise SettingError(f"{name} must be a finite number, got {strength!r}")
    if not 0.0 < strength <= 1.0:
        raise SettingError(f"{name} must be in (0, 1], got {strength:g}")
    return float(strength)


def check_seed(seed, name: str = "seed") -> int:
    if not _is_integer(seed) or not 0 <= seed < SEED_LIMIT:
        raise SettingError(f"{name} must be a whole number from 0 to 2**64 - 1, got {seed!r}")
    return int(seed)


def check_steps_kept(steps: int, strength: float, names: Mapping[str, str] = PYTHON_NAMES, strength_given: bool = True) -> None:
    """A run visits ⌊steps·strength⌋ steps: at least one must remain."""
    if int(steps * strength) >= 1:
        return
    if strength_given:
        raise SettingError(f"{names['strength']} {strength:g} keeps no step out of {names['steps']} {steps}")
    raise SettingError(
        f"the model runs {strength:g} of the steps, none of {names['steps']} {steps}: "
        f"pass more {names['steps']} or {names['strength']} 1"
    )


def check_sampling(
    *,
    steps,
    guidance_scale,
    strength,
    seed=0,
    default_strength: Optional[float] = None,
    names: Mapping[str, str] = PYTHON_NAMES,
) -> tuple[int, float, float, int]:
    """(steps, guidance_scale, strength, seed) checked; strength None takes `default_strength` (the model's)."""
    steps = check_steps(steps, names["steps"])
    guidance_scale = check_guidance(guidance_scale, names["guidance_scale"])
    given = strength is not None
    strength = check_strength(strength if given else (1.0 if default_strength is None else default_strength), names["strength"])
    seed = check_seed(seed, names["seed"])
    check_steps_kept(steps, strength, names, strength_given=given)
    return steps, guidance_scale, strength, seed
