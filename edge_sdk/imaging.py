"""Reading user images and masks into the forms the pipeline works with, with one-line errors."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_sdk.errors import InputImageError

MAX_MEGAPIXELS = 50
MASK_THRESHOLD = 127.5  # official binarisation: a pixel is a hole when its value ≥ 127.5 (white = hole)

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]



def _open(source: ImageLike, what: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, what)
    path = Path(source)
    if not path.is_file():
        raise InputImageError(f"{what} not found: {path}")
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


def load_image(source: ImageLike) -> Image.Image:
    """An RGB image; RGBA is composited on white only where it carries no hole information."""
    image = _open(source, "image")
    _check_size(image, "image")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _to_8bit_gray(image).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


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


def save_image_atomic(image: Image.Image, path: Union[str, os.PathLike]) -> Path:
    """Write next to the target and rename, so a failure never leaves a half-written file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputImageError(f"output folder does not exist: {path.parent}")
    suffix = path.suffix.lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
    if suffix not in formats:
        raise InputImageError(f"output {path} must end in one of {', '.join(sorted(formats))}")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format=formats[suffix])
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
