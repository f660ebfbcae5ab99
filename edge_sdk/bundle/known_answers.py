"""The known answers every bundle carries (its test vector): inputs and expected outputs of one `step` and of `decode`.

Inputs are realistic rather than random: the latents of a bundled sample photo and its mask (encoded by the
fp32 reference graphs), the seeded start noise, and retained step 0. Expected outputs come from the fp32
PyTorch graphs, so a bundle of any precision is compared with the same reference; the manifest stores the
relative error allowed for its precision (and, where the runtime exists at export, the error measured).
"""
from __future__ import annotations

from pathlib import Path

import torch

from edge_sdk.samples import sample_square

TEST_VECTOR_FILE = "test_vector.safetensors"
NOISE_SEED = 0

# Allowed relative error (‖actual − expected‖ / ‖expected‖) by the precision a graph runs in. int8 is
# widened at export to twice what the runtime measured, where it can run there.
TOLERANCE = {"fp32": 1e-3, "fp16": 3e-2, "w8": 5e-2, "int8": 0.25}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    actual, expected = actual.detach().to(torch.float64), expected.detach().to(torch.float64)
    return float((actual - expected).norm() / expected.norm().clamp_min(1e-30))


@torch.no_grad()
def make_test_vector(graphs) -> dict[str, torch.Tensor]:
    """{'step.x', 'step.masked_latents', 'step.mask_latent', 'step.step_index', 'step.next_x',
    'decode.latents', 'decode.image'} from the fp32 reference graphs."""
    config = graphs.config
    image, mask = sample_square(0, config.image_size)
    vae_dtype = next(graphs.encode.parameters()).dtype
    masked_latents, mask_latent, *_ = graphs.encode(image.to(vae_dtype), mask.to(vae_dtype))
    masked_latents, mask_latent = masked_latents.float(), mask_latent.float()
    generator = torch.Generator().manual_seed(NOISE_SEED)
    x = torch.randn(1, 4, config.sample_size, config.sample_size, generator=generator)
    index = torch.tensor([0], dtype=torch.int64)
    next_x = graphs.step(x, masked_latents, mask_latent, index)
    decoded = graphs.decode_image(masked_latents.to(vae_dtype)).float()
    return {
        "step.x": x,
        "step.masked_latents": masked_latents,
        "step.mask_latent": mask_latent,
        "step.step_index": index,
        "step.next_x": next_x.float(),
        "decode.latents": masked_latents,
        "decode.image": decoded,
    }


def save_test_vector(vector: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().clone().contiguous() for k, v in vector.items()}, str(path))


def load_test_vector(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def run_test_vector(runner, vector: dict[str, torch.Tensor]) -> dict[str, float]:
    """Relative error of the runner's `step` and `decode` on the vector's inputs."""
    next_x = runner.step(vector["step.x"], vector["step.masked_latents"], vector["step.mask_latent"], vector["step.step_index"])
    image = runner.decode(vector["decode.latents"])
    return {
        "step": relative_error(next_x, vector["step.next_x"]),
        "decode": relative_error(image, vector["decode.image"]),
    }


def tolerances(graph_precisions: dict[str, str], measured: dict[str, float] | None = None) -> dict[str, float]:
    allowed = {}
    for name in ("step", "decode"):
        precision = graph_precisions[name]
        limit = TOLERANCE[precision]
        if precision == "int8" and measured and name in measured:
            limit = max(2.0 * measured[name], 1e-3)
        allowed[name] = limit
    return allowed
