"""Loading denoiser weights: official `.bin` pickles (safely) and `.safetensors`, strictly key for key."""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Optional, Union

import torch

from edge_sdk.config import MoebiusConfig, preset_for_channels, resolve_config
from edge_sdk.errors import CheckpointError
from edge_sdk.model import MoebiusDenoiser

RANDOM_INIT_SEED = 0
_CONV_IN_KEY = "diff_model.conv_in.conv_pw.weight"


def check_checkpoint_file(path: Union[str, Path]) -> Path:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is a folder: pass the .bin or .safetensors file")
    return path


def read_state_dict(path: Union[str, Path]) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, without ever executing pickled code."""
    path = check_checkpoint_file(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global that is not a tensor building block: nothing was run. PyTorch's
        # message goes on to advise weights_only=False, which would run that code: only the culprit is kept.
        raise CheckpointError(f"{path} was refused: it is not a plain state dict ({_refused_content(exc)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict (a mapping of names to tensors)")
    return state


def _refused_content(exc: Exception) -> str:
    """What torch.load(weights_only=True) refused, e.g. 'Unsupported global: GLOBAL argparse.Namespace'."""
    for line in str(exc).splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        match = re.search(r"Unsupported [a-z]+:? (GLOBAL )?[\w.]*\w", line)
        if match:
            return match.group(0).strip()
    return "it holds Python objects besides tensors"


def _matching_preset(state: dict[str, torch.Tensor]) -> str | None:
    """The preset whose every parameter name and shape the checkpoint has, if one does."""
    from edge_sdk.config import MODEL_CONFIGS

    for name, config in MODEL_CONFIGS.items():
        with torch.device("meta"):
            expected = MoebiusDenoiser(config).state_dict()
        if expected.keys() == state.keys() and all(state[k].shape == v.shape for k, v in expected.items()):
            return name
    return None


def _fitting_config_hint(state: dict[str, torch.Tensor]) -> str:
    """Which config the checkpoint's shapes point to, for the error message."""
    conv_in = state.get(_CONV_IN_KEY)
    if conv_in is None or conv_in.ndim != 4:
        return "it does not look like a Moebius checkpoint (no conv_in weight)"
    exact = _matching_preset(state)
    if exact:
        return f"its shapes fit the '{exact}' preset"
    widths = [int(conv_in.shape[0])]
    for level in (1, 2, 3):
        weight = state.get(f"diff_model.down_blocks.{level}.resnets.1.conv2.conv_pw.weight")
        if weight is None:
            break
        widths.append(int(weight.shape[0]))
    preset = preset_for_channels(widths)
    if preset:
        return f"its block widths are the '{preset}' preset's but other shapes differ: check the config it was trained with"
    return f"its shapes fit a config with block_out_channels {widths}"


def check_keys(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise one error naming missing, unexpected and mis-shaped keys (the first few and a count)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if items:
            shown = ", ".join(items[:3]) + (", …" if len(items) > 3 else "")
            problems.append(f"{len(items)} {label} ({shown})")
    if problems:
        raise CheckpointError(f"{source} does not match the model config: {'; '.join(problems)}; {_fitting_config_hint(state)}")


def build_denoiser(config, seed: int = RANDOM_INIT_SEED) -> MoebiusDenoiser:
    """The architecture with seeded random weights (benchmarks, tests, training from scratch)."""
    config = resolve_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MoebiusDenoiser(config)
        for name, param in model.named_parameters():
            if name.endswith("rel_pos_emb"):
                torch.nn.init.normal_(param, std=0.02)
    return model.eval()


def load_denoiser(
    checkpoint: Optional[Union[str, Path]],
    config: Union[str, Path, MoebiusConfig] = "moebius-0.2b",
    dtype: torch.dtype = torch.float32,
) -> MoebiusDenoiser:
    """An eval-mode denoiser from an official checkpoint, or seeded random weights when `checkpoint` is None."""
    config = resolve_config(config)
    if checkpoint is None:
        return build_denoiser(config).to(dtype)
    state = read_state_dict(checkpoint)
    with torch.device("meta"):
        skeleton = MoebiusDenoiser(config)
    check_keys(skeleton, state, str(checkpoint))
    # The skeleton holds no memory; assign=True adopts the loaded tensors instead of copying into random ones.
    skeleton.load_state_dict(state, strict=True, assign=True)
    return skeleton.to(dtype).eval()
