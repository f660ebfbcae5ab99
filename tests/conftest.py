"""Shared fixtures: the golden reference data lives in ../shared/reference, beside the checkout."""
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
TINY_CHECKPOINT = REFERENCE / "tiny" / "diffusion_pytorch_model.bin"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "tiny" / "forward_golden.pt").is_file():
        pytest.skip(f"golden reference data not found at ../shared/reference (looked in {REFERENCE.parent.name}/reference)")
    return REFERENCE


@pytest.fixture(scope="session")
def tiny_reference_denoiser(reference_dir):
    from edge_sdk import load_denoiser

    return load_denoiser(reference_dir / "tiny" / "diffusion_pytorch_model.bin", "tiny")


def relative_error(actual, expected) -> float:
    return float((actual - expected).norm() / expected.norm())
