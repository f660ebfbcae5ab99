"""How far a (quantized) step graph drifts from the fp32 trajectories of a calibration set.

Each entry of the set is re-run from its own start latent with the step graph under test, free-running
(its own latents feed the next step, as on a device). Per step we compare the latent and the guided ε with
the fp32 run; at the end we decode and compare the final image over the whole image and inside the hole.

ε is recovered from the step's input and output: the DDIM update x' = (√ᾱ′/√ᾱ)·x + (√(1−ᾱ′) − √ᾱ′·√(1−ᾱ)/√ᾱ)·ε
is affine in ε, so any step graph (PyTorch, fake-quantized, or a backend runtime) can be measured the same
way without access to its internals.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import torch

from edge_sdk import image_metrics as metrics

StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass
class DriftResult:
    psnr_db: float  # whole image, from the MSE pooled over entries
    psnr_hole_db: float
    ssim: float  # mean over entries
    ssim_hole: float
    per_step: list[dict]  # {"step", "timestep", "latent", "epsilon"}: relative errors, pooled over entries
    per_image: list[dict]  # {"name", "psnr_db", "psnr_hole_db", "ssim", "ssim_hole"}
    images: list[torch.Tensor]  # the final images of the graph under test, [1, 3, S, S] in [0, 1]

    def to_dict(self) -> dict:
        return {
            "psnr_db": self.psnr_db,
            "psnr_hole_db": self.psnr_hole_db,
            "ssim": self.ssim,
            "ssim_hole": self.ssim_hole,
            "per_step_rel_err": self.per_step,
            "per_image": self.per_image,
        }


class EpsilonFromStep:
    """Guided ε̂ of step i from (x_i, x_{i+1}), using the step graph's own DDIM coefficients (fp64)."""

    def __init__(self, schedule):
        self.sqrt_alpha = schedule.sqrt_alpha.double()
        self.sqrt_one_minus_alpha = schedule.sqrt_one_minus_alpha.double()
        self.sqrt_alpha_prev = schedule.sqrt_alpha_prev.double()
        self.sqrt_one_minus_alpha_prev = schedule.sqrt_one_minus_alpha_prev.double()

    def __call__(self, x: torch.Tensor, next_x: torch.Tensor, i: int) -> torch.Tensor:
        ratio = self.sqrt_alpha_prev[i] / self.sqrt_alpha[i]
        gain = self.sqrt_one_minus_alpha_prev[i] - ratio * self.sqrt_one_minus_alpha[i]
        return (next_x.double() - ratio * x.double()) / gain


@torch.no_grad()
def run_entry(step: StepFn, calibration_set, entry: int) -> torch.Tensor:
    """The trajectory [steps + 1, 4, h, w] of `step` from the entry's start latent."""
    steps = calibration_set.trajectories.shape[1] - 1
    masked = calibration_set.masked_latents[entry][None]
    mask_latent = calibration_set.mask_latent[entry][None]
    x = calibration_set.start(entry)
    trajectory = [x]
    for i in range(steps):
        x = step(x, masked, mask_latent, torch.tensor([i], dtype=torch.int64)).float()
        trajectory.append(x)
    return torch.cat(trajectory)


@torch.no_grad()
def measure_drift(
    step: StepFn,
    calibration_set,
    decode: Callable[[torch.Tensor], torch.Tensor],
    schedule,
    entries: Optional[Sequence[int]] = None,
) -> DriftResult:
    """Drift of `step` against the set's fp32 trajectories over `entries` (default: all)."""
    if not calibration_set.complete:
        raise ValueError("drift needs trajectories that reach the final step")
    entries = list(range(calibration_set.entries)) if entries is None else list(entries)
    if not entries:
        raise ValueError("no entry to measure")
    epsilon = EpsilonFromStep(schedule)
    steps = calibration_set.trajectories.shape[1] - 1
    latent_err = torch.zeros(steps, dtype=torch.float64)
    latent_ref = torch.zeros(steps, dtype=torch.float64)
    eps_err = torch.zeros(steps, dtype=torch.float64)
    eps_ref = torch.zeros(steps, dtype=torch.float64)
    squared_whole = squared_hole = 0.0
    pixels_whole = pixels_hole = 0.0
    per_image, images, ssims, ssims_hole = [], [], [], []
    for entry in entries:
        reference = calibration_set.trajectories[entry]
        trajectory = run_entry(step, calibration_set, entry)
        for i in range(steps):
            latent_err[i] += float((trajectory[i + 1].double() - reference[i + 1].double()).pow(2).sum())
            latent_ref[i] += float(reference[i + 1].double().pow(2).sum())
            eps_test = epsilon(trajectory[i], trajectory[i + 1], i)
            eps_true = epsilon(reference[i], reference[i + 1], i)
            eps_err[i] += float((eps_test - eps_true).pow(2).sum())
            eps_ref[i] += float(eps_true.pow(2).sum())
        image = decode(trajectory[-1][None]).float()
        expected = calibration_set.reference_image(entry, decode)
        hole = calibration_set.hole(entry)
        whole_mse = metrics.mse(image, expected)
        hole_mse = metrics.mse(image, expected, hole)
        hole_pixels = float(hole.sum()) * image.shape[1]
        squared_whole += whole_mse * image.numel()
        pixels_whole += image.numel()
        squared_hole += hole_mse * hole_pixels
        pixels_hole += hole_pixels
        entry_ssim, entry_ssim_hole = metrics.ssim_pair(image, expected, hole)
        ssims.append(entry_ssim)
        ssims_hole.append(entry_ssim_hole)
        per_image.append(
            {
                "name": calibration_set.names[entry],
                "psnr_db": metrics.psnr_from_mse(whole_mse),
                "psnr_hole_db": metrics.psnr_from_mse(hole_mse),
                "ssim": entry_ssim,
                "ssim_hole": entry_ssim_hole,
            }
        )
        images.append(image)
    timesteps = calibration_set.timesteps
    per_step = [
        {
            "step": i,
            "timestep": int(timesteps[i]),
            "latent": float((latent_err[i] / latent_ref[i]).sqrt()),
            "epsilon": float((eps_err[i] / eps_ref[i]).sqrt()),
        }
        for i in range(steps)
    ]
    return DriftResult(
        psnr_db=metrics.psnr_from_mse(squared_whole / pixels_whole),
        psnr_hole_db=metrics.psnr_from_mse(squared_hole / pixels_hole),
        ssim=sum(ssims) / len(ssims),
        ssim_hole=sum(ssims_hole) / len(ssims_hole),
        per_step=per_step,
        per_image=per_image,
        images=images,
    )
