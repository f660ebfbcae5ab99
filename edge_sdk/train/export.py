"""Writing trained denoiser weights for shipping: fp16 safetensors, written atomically, that load key for key."""
from __future__ import annotations

from pathlib import Path

import torch

from edge_sdk.atomic_files import write_atomic


def export_denoiser(model: torch.nn.Module, path: Path, dtype: torch.dtype = torch.float16) -> Path:
    """Save the state dict in `dtype` (BatchNorm counters stay integer); loads with `load_denoiser(path, config)`."""
    from safetensors.torch import save_file

    state = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    return write_atomic(path, lambda temporary: save_file(state, str(temporary)))
