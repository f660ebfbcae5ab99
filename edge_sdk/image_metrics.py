"""Image and tensor comparison metrics: relative error, PSNR and SSIM, over a whole image or inside a hole.

Images are float tensors [B, 3, H, W] in [0, 1] (what the decode graph returns); masks are [B, 1, H, W]
with 1 (or True) marking the hole.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

# SSIM constants of Wang, Bovik, Sheikh & Simoncelli (2004), "Image quality assessment: from error
# visibility to structural similarity": an 11×11 Gaussian window of σ = 1.5, K1 = 0.01, K2 = 0.03.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """‖actual − expected‖ / ‖expected‖ (Frobenius norms, computed in float64)."""
    expected = expected.double()
    denominator = float(expected.norm())
    numerator = float((actual.double() - expected).norm())
    if denominator == 0.0:
        return 0.0 if numerator == 0.0 else math.inf
    return numerator / denominator


def mse(actual: torch.Tensor, expected: torch.Tensor, mask: Optional[torch.Tensor] = None) -> float:
    """Mean squared error over all pixels and channels, or only over the pixels where `mask` is set."""
    squared = (actual.double() - expected.double()) ** 2
    if mask is None:
        return float(squared.mean())
    weight = _broadcast_mask(mask, squared)
    count = float(weight.sum())
    if count == 0.0:
        raise ValueError("the mask selects no pixel")
    return float((squared * weight).sum() / count)


def psnr_from_mse(value: float, data_range: float = 1.0) -> float:
    """10·log10(range² / MSE); +inf for identical images."""
    if value <= 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / value)


def psnr(actual: torch.Tensor, expected: torch.Tensor, mask: Optional[torch.Tensor] = None, data_range: float = 1.0) -> float:
    return psnr_from_mse(mse(actual, expected, mask), data_range)


def ssim(actual: torch.Tensor, expected: torch.Tensor, mask: Optional[torch.Tensor] = None, data_range: float = 1.0) -> float:
    """Mean SSIM (Wang et al. 2004) of every colour channel, over the image or averaged inside `mask`."""
    return ssim_pair(actual, expected, mask, data_range)[0 if mask is None else 1]


def ssim_pair(
    actual: torch.Tensor, expected: torch.Tensor, mask: Optional[torch.Tensor] = None, data_range: float = 1.0
) -> tuple[float, Optional[float]]:
    """(SSIM over the whole image, SSIM inside `mask` or None), from one SSIM map.

    Local means, variances and covariance use the Gaussian window on each channel separately (applied as
    two 1-D passes), with population (not sample) statistics, as in the paper. Pixels within 5 px of the
    border, where the window does not fit, are left out of the means.
    """
    if actual.shape != expected.shape or actual.dim() != 4:
        raise ValueError(f"ssim needs two [B, C, H, W] tensors of one shape, got {tuple(actual.shape)} and {tuple(expected.shape)}")
    # float32 is ample for local statistics of values in [0, 1], and several times faster on CPUs;
    # float64 inputs keep float64.
    dtype = torch.float64 if torch.float64 in (actual.dtype, expected.dtype) else torch.float32
    ssim_map = _ssim_map(actual.to(dtype), expected.to(dtype), data_range).double()
    whole = float(ssim_map.mean())
    if mask is None:
        return whole, None
    margin = SSIM_WINDOW // 2
    weight = _broadcast_mask(mask, actual)[..., margin:-margin, margin:-margin]
    count = float(weight.sum())
    if count == 0.0:
        raise ValueError("the mask selects no pixel away from the image border")
    return whole, float((ssim_map * weight).sum() / count)


def _ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    channels = x.shape[1]
    coords = torch.arange(SSIM_WINDOW, dtype=x.dtype) - SSIM_WINDOW // 2
    gauss = torch.exp(-(coords**2) / (2 * SSIM_SIGMA**2))
    gauss = gauss / gauss.sum()
    rows = gauss.reshape(1, 1, SSIM_WINDOW, 1).expand(channels, 1, SSIM_WINDOW, 1).contiguous()
    columns = gauss.reshape(1, 1, 1, SSIM_WINDOW).expand(channels, 1, 1, SSIM_WINDOW).contiguous()

    def local_mean(t):
        # The 2-D Gaussian is separable; "valid" padding: only where the window fits.
        return F.conv2d(F.conv2d(t, rows, groups=channels), columns, groups=channels)

    # Variances are E[x²] - E[x]², which cancels badly in float32 on flat regions; they do not change when
    # both images move by one constant, so the statistics are taken around each channel's mean of `y`.
    shift = y.mean(dim=(2, 3), keepdim=True)
    x, y = x - shift, y - shift
    centred_x, centred_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - centred_x**2
    var_y = local_mean(y * y) - centred_y**2
    cov = local_mean(x * y) - centred_x * centred_y
    mu_x, mu_y = centred_x + shift, centred_y + shift
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def _broadcast_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    weight = (mask > 0.5).double() if mask.dtype != torch.bool else mask.double()
    if weight.dim() != 4 or weight.shape[0] != like.shape[0] or weight.shape[-2:] != like.shape[-2:]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit images of shape {tuple(like.shape)}")
    return weight.expand(-1, like.shape[1], -1, -1)
