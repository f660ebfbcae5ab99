"""Inpainting an image of any size with a square generator: crop, run, paste back only the hole.

Shared by the reference pipeline and by deployed bundles, so both treat user images identically;
they differ only in the `generate` callable (PyTorch reference loop vs a backend runtime).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageFilter

from edge_sdk.imaging import ImageLike, load_mask, load_picture
from edge_sdk.regions import plan_crops

PASTE_BLUR_RADIUS = 3
LATENT_CHANNELS = 4
LATENT_FACTOR = 8

# generate(image [1,3,S,S] in [-1,1], mask [1,1,S,S] in {0,1}, noise [1,4,S/8,S/8]) -> image [1,3,S,S] in [0,1]
SquareGenerator = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return pixels / 255.0 * 2.0 - 1.0


def mask_to_tensor(hole: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(hole.astype(np.float32))[None, None]


def tensor_to_image(unit: torch.Tensor) -> Image.Image:
    """[1,3,H,W] in [0,1] → uint8 by truncation, as the official pipeline does."""
    pixels = (unit[0].clamp(0, 1) * 255.0).permute(1, 2, 0).to(torch.uint8).cpu().numpy()
    return Image.fromarray(pixels)


def paste_hole(original: Image.Image, generated: Image.Image, hole: np.ndarray) -> Image.Image:
    """Blend with the radius-3 Gaussian-blurred mask (official paste): pixels far from the hole are kept exactly."""
    weight = Image.fromarray(hole.astype(np.uint8) * 255).convert("RGB").filter(ImageFilter.GaussianBlur(PASTE_BLUR_RADIUS))
    w = np.asarray(weight, dtype=np.float64) / 255.0
    # Divide each image by 255 before multiplying: the order the official code uses (bit-exact output).
    out = (np.asarray(generated, dtype=np.float64) / 255.0) * w + (1.0 - w) * (np.asarray(original, dtype=np.float64) / 255.0)
    return Image.fromarray(np.uint8(out * 255.0))


def crop_noise(generator: torch.Generator, model_size: int) -> torch.Tensor:
    """The initial latent noise of the next crop: crops draw in order from one generator seeded per inpaint."""
    side = model_size // LATENT_FACTOR
    return torch.randn(1, LATENT_CHANNELS, side, side, generator=generator)


def inpaint_any_size(
    generate: SquareGenerator,
    image: ImageLike,
    mask: ImageLike,
    *,
    model_size: int,
    seed: int = 0,
) -> Image.Image:
    """Fill the white area of `mask` in `image`; returns a PIL image of the input's size and mode (grey stays
    grey; RGBA keeps its alpha outside the hole)."""
    source = load_picture(image)
    picture = source.rgb
    hole = load_mask(mask, picture.size)
    if not hole.any():
        return source.original.copy()
    generator = torch.Generator().manual_seed(seed)
    result = picture.copy()
    for crop, _ in plan_crops(hole, model_size):
        region = picture.crop(crop.as_tuple())
        region_hole = hole[crop.top : crop.bottom, crop.left : crop.right]
        square = (model_size, model_size)
        model_image = region if region.size == square else region.resize(square, Image.BICUBIC)
        model_hole = (
            region_hole
            if region.size == square
            else np.asarray(Image.fromarray(region_hole).resize(square, Image.NEAREST), dtype=bool)
        )
        noise = crop_noise(generator, model_size)
        with torch.no_grad():
            filled = tensor_to_image(generate(image_to_tensor(model_image), mask_to_tensor(model_hole), noise))
        if filled.size != region.size:
            filled = filled.resize(region.size, Image.LANCZOS)
        result.paste(paste_hole(region, filled, region_hole), crop.as_tuple()[:2])
    return source.restore(result, hole)
