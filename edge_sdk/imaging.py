"""Reading user images and masks into the forms the pipeline works with, with one-line errors."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_sdk.errors import InputImageError
from edge_sdk.output_files import save_image_atomic  # noqa: F401  (its former home; kept importable)

MAX_MEGAPIXELS = 50
MASK_THRESHOLD = 127.5  # official binarisation: a pixel is a hole when its value ≥ 127.5 (white = hole)

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]


def _open(source: ImageLike, what: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, what)
    if not isinstance(source, (str, os.PathLike)):
        raise InputImageError(f"{what} must be a file path, a PIL image or a numpy array, got {type(source).__name__}")
    path = Path(source)
    try:
        os.stat(path)
    except FileNotFoundError:
        raise InputImageError(f"{what} not found: {path}") from None
    except OSError as exc:  # a symlink loop, a name too long, a folder we may not enter
        raise InputImageError(f"{what} {path} cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    if path.is_dir():
        raise InputImageError(f"{what} {path} is a folder, not an image file")
    try:
        image = Image.open(path)
        _check_size(image, what)  # from the header, before decoding a huge file
        image.load()
    except Image.DecompressionBombError:
        raise InputImageError(f"{what} {path} is over the {MAX_MEGAPIXELS} MP limit: crop the region around the hole first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputImageError(f"{what} {path} is not a readable image ({exc.__class__.__name__})") from None
    return image


def _from_array(array: np.ndarray, what: str) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InputImageError(f"{what} array must be H×W, H×W×3 or H×W×4, got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        # Floats are taken as [0, 1] intensities.
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise InputImageError(f"{what} array has unsupported dtype {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def _check_size(image: Image.Image, what: str) -> None:
    megapixels = image.width * image.height / 1e6
    if megapixels > MAX_MEGAPIXELS:
        raise InputImageError(
            f"{what} is {image.width}×{image.height} ({megapixels:.0f} MP), over the {MAX_MEGAPIXELS} MP limit: "
            f"crop the region around the hole first"
        )


def _to_8bit_gray(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grey: keep the top 8 bits of a 16-bit range.
        values = np.asarray(image, dtype=np.uint32) >> 8
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    return image.convert("L")


_GRAY_MODES = ("1", "L", "I;16", "I;16B", "I;16L", "I")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for the model: grey widened, 16-bit narrowed to its top 8 bits, transparency composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _to_8bit_gray(image).convert("RGB")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(source: ImageLike) -> Image.Image:
    """An RGB image; RGBA is composited on white only where it carries no hole information."""
    image = _open(source, "image")
    _check_size(image, "image")
    return _flatten(image)


@dataclasses.dataclass(frozen=True)
class Picture:
    """A user image as the model sees it (`rgb`) and what is needed to hand the result back in its own mode."""

    rgb: Image.Image
    mode: str  # "RGB", "L", "RGBA" or "LA": the mode results are returned in
    original: Image.Image  # the input in `mode`, for the pixels the fill does not touch

    def restore(self, result: Image.Image, hole: np.ndarray) -> Image.Image:
        """`result` (RGB) in the input's mode: grey stays grey; alpha is kept outside the hole and the filled
        hole is opaque."""
        if self.mode == "RGB":
            return result
        if self.mode == "L":
            return result.convert("L")
        changed = np.any(np.asarray(result) != np.asarray(self.rgb), axis=2) | hole
        pixels = np.array(self.original)
        filled = np.asarray(result if self.mode == "RGBA" else result.convert("L"))
        colour = pixels[..., :-1] if self.mode == "RGBA" else pixels[..., 0]
        colour[changed] = filled[changed]
        pixels[..., -1][hole] = 255
        return Image.fromarray(pixels)


def load_picture(source: ImageLike) -> Picture:
    """The image as `load_image` gives it, plus the mode to return results in."""
    image = _open(source, "image")
    _check_size(image, "image")
    rgb = _flatten(image)
    grey = image.mode in _GRAY_MODES or image.mode == "LA"
    if _has_alpha(image):
        mode = "LA" if grey else "RGBA"
        original = image.convert(mode) if image.mode != "PA" else image.convert("RGBA")
        mode = original.mode
    elif grey:
        mode, original = "L", rgb.convert("L")
    else:
        mode, original = "RGB", rgb
    return Picture(rgb=rgb, mode=mode, original=original)


def load_mask(source: ImageLike, size: tuple[int, int]) -> np.ndarray:
    """A boolean hole map (True = hole) of the image's size; white (≥ 127.5) is the hole."""
    mask = _open(source, "mask")
    if mask.size != tuple(size):
        raise InputImageError(f"mask is {mask.width}×{mask.height} but the image is {size[0]}×{size[1]}: they must match")
    if mask.mode in ("RGBA", "LA"):
        # A painted overlay: where it is transparent there is no hole, whatever the colour.
        alpha = np.asarray(mask.getchannel("A"), dtype=np.float32)
        gray = np.asarray(_to_8bit_gray(mask.convert("RGB")), dtype=np.float32)
        return (gray * (alpha / 255.0)) >= MASK_THRESHOLD
    return np.asarray(_to_8bit_gray(mask), dtype=np.float32) >= MASK_THRESHOLD


def center_square(picture: Image.Image, size: int, resample) -> Image.Image:
    """The largest centred square of `picture`, resized to size×size with `resample` (NEAREST for masks)."""
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    crop = picture.crop((left, top, left + side, top + side))
    return crop if crop.size == (size, size) else crop.resize((size, size), resample)
