"""Checkpoints that are missing, malformed, mismatched or malicious are refused with a clear message."""
import os
import pickle

import pytest
import torch

from edge_sdk import load_denoiser
from edge_sdk.errors import CheckpointError, ConfigError


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_denoiser(tmp_path / "nope.bin", "tiny")


def test_wrong_config_names_keys_and_the_fitting_preset(reference_dir):
    with pytest.raises(CheckpointError) as error:
        load_denoiser(reference_dir / "tiny" / "diffusion_pytorch_model.bin", "moebius-0.2b")
    message = str(error.value)
    assert "mis-shaped" in message and "diff_model." in message
    assert "'tiny' preset" in message
    assert "\n" not in message


def test_missing_and_unexpected_keys_are_counted(tmp_path, reference_dir):
    state = torch.load(reference_dir / "tiny" / "diffusion_pytorch_model.bin", weights_only=True)
    del state["embedding_layer.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "edited.bin")
    with pytest.raises(CheckpointError, match=r"1 missing \(embedding_layer.weight\); 1 unexpected \(extra.weight\)"):
        load_denoiser(tmp_path / "edited.bin", "tiny")


def test_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.bin")
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_denoiser(tmp_path / "list.bin", "tiny")


def test_corrupt_file(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint|refused"):
        load_denoiser(tmp_path / "junk.bin", "tiny")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_denoiser(tmp_path / "junk.safetensors", "tiny")


class _RunsCode:
    """A pickle that would create a file when unpickled by a trusting loader."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.bin", "wb") as stream:
        pickle.dump({"embedding_layer.weight": _RunsCode(marker)}, stream)
    with pytest.raises(CheckpointError, match="refused"):
        load_denoiser(tmp_path / "evil.bin", "tiny")
    assert not marker.exists()


def test_unknown_config():
    with pytest.raises(ConfigError, match="unknown model"):
        load_denoiser(None, "huge")
