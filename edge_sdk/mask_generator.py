"""Seeded, reproducible inpainting masks, binned by hole ratio.

Masks follow the SDK convention: a uint8 array of shape (height, width) where
255 marks the hole to inpaint and 0 the pixels to keep. The kinds resemble
LaMa's training masks (thin, medium and thick brush strokes, boxes) plus
object-like blobs. Every mask is drawn from numpy's PCG64 generator seeded by
the caller, so the same arguments give the same pixels (for a given numpy and
Pillow version, since Pillow does the rasterising).

All invalid arguments raise ValueError, so a CLI needs to handle one error type.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw

from edge_sdk.atomic_files import write_atomic

MASK_KINDS = ("thin", "medium", "thick", "box", "blob")
HOLE_RATIO_BINS = ((0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))

# Past this there is too little context left to inpaint from, and thin strokes
# would need hundreds of elements to get there.
MAX_HOLE_RATIO = 0.8

HOLE = 255
KEEP = 0

Size = Union[int, Sequence[int]]
RatioBin = tuple[float, float]

# Stroke widths as fractions of the shorter image side. The ranges do not
# overlap, so every thin stroke is narrower than every medium one, and so on.
_STROKE_WIDTHS = {"thin": (0.01, 0.03), "medium": (0.03, 0.07), "thick": (0.07, 0.14)}
_MAX_STROKE_SEGMENTS = 6
_MAX_STROKE_TURN = math.pi / 2
_STROKE_SEGMENT_LENGTH = (0.05, 0.25)  # fraction of the shorter side

_BOX_SIDE = (0.1, 0.4)  # fraction of the matching image side

_BLOB_RADIUS = (0.08, 0.22)  # fraction of the shorter side
_BLOB_VERTICES = 64
_BLOB_HARMONICS = 4  # cosines of frequency 2..5 bend the outline
_BLOB_WOBBLE = 0.35  # keeps the radius positive: 0.35 * (1/2 + ... + 1/5) < 1

# Budget for fitting a mask into its bin. An element that overshoots the bin is
# discarded and the following ones are drawn smaller; after too many misses in a
# row the attempt starts over from an empty canvas.
_MAX_ATTEMPTS = 4
_MAX_ELEMENTS_PER_ATTEMPT = 1000
_MAX_CONSECUTIVE_MISSES = 60
_SHRINK_PER_MISS = 0.75
_MIN_SCALE = 0.02

ElementDrawer = Callable[[ImageDraw.ImageDraw, np.random.Generator, tuple[int, int], float], None]


@dataclass(frozen=True, eq=False)
class MaskSpec:
    """One generated mask and what it takes to generate it again.

    `generate_mask(size, kind, ratio_bin, seed)` reproduces `mask` exactly.
    """

    index: int
    kind: str
    ratio_bin: RatioBin
    seed: int
    mask: np.ndarray = field(repr=False)

    @property
    def hole_ratio(self) -> float:
        return hole_ratio(self.mask)

    @property
    def filename(self) -> str:
        low, high = self.ratio_bin
        return f"mask_{self.index:04d}_{self.kind}_{low * 100:g}-{high * 100:g}.png"


def generate_mask(
    size: Size,
    kind: str,
    ratio_bin: RatioBin | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Draw one mask of `kind` whose hole ratio lies in [low, high) of `ratio_bin`.

    `size` is (width, height), or one int for a square. With `ratio_bin=None` the
    bin is picked from HOLE_RATIO_BINS by the seed. Returns uint8 (height, width)
    with 255 = hole. Raises ValueError for bad arguments, for a bin that no pixel
    count can hit at this size, or when the bin cannot be reached within the budget.
    """
    width, height = _checked_size(size)
    drawer = _drawer_for(kind)
    _check_seed(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    if ratio_bin is None:
        ratio_bin = HOLE_RATIO_BINS[int(rng.integers(len(HOLE_RATIO_BINS)))]
    low, high = _checked_bin(ratio_bin)
    min_holes, max_holes = _hole_count_range(low, high, width * height)
    if min_holes > max_holes:
        raise ValueError(
            f"hole ratio bin [{low}, {high}) is too narrow for a {width}x{height} mask: "
            "no whole number of pixels falls in it"
        )
    mask = _fill_to_hole_count((width, height), drawer, min_holes, max_holes, rng)
    if mask is None:
        raise ValueError(
            f"could not draw a {kind!r} mask of {width}x{height} with a hole ratio in "
            f"[{low}, {high}) after {_MAX_ATTEMPTS} attempts; widen the bin or use a larger size"
        )
    return mask


def generate_masks(
    count: int,
    size: Size,
    seed: int,
    kinds: Sequence[str] = MASK_KINDS,
    bins: Sequence[RatioBin] = HOLE_RATIO_BINS,
) -> list[MaskSpec]:
    """Generate `count` masks cycling through every (kind, bin) pair.

    Mask i has kind kinds[i % len(kinds)] and bin bins[(i // len(kinds)) % len(bins)],
    so each block of len(kinds) * len(bins) masks covers every pair once. Each mask
    gets its own seed derived from (seed, i), recorded in its MaskSpec.
    """
    if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 0:
        raise ValueError(f"mask count must be a non-negative integer, got {count!r}")
    size = _checked_size(size)
    _check_seed(seed)
    kinds = tuple(kinds)
    bins = tuple(tuple(ratio_bin) for ratio_bin in bins)
    if not kinds:
        raise ValueError("kinds must name at least one mask kind")
    if not bins:
        raise ValueError("bins must hold at least one hole ratio bin")
    # Fail before drawing anything rather than halfway through a set.
    for kind in kinds:
        _drawer_for(kind)
    for ratio_bin in bins:
        _checked_bin(ratio_bin)

    specs = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        ratio_bin = bins[(index // len(kinds)) % len(bins)]
        mask_seed = _derived_seed(seed, index)
        mask = generate_mask(size, kind, ratio_bin, mask_seed)
        specs.append(MaskSpec(index, kind, ratio_bin, mask_seed, mask))
    return specs


def hole_ratio(mask: np.ndarray | Image.Image) -> float:
    """Fraction of pixels that are hole (value above 127, i.e. white)."""
    pixels = np.asarray(mask)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"a mask must be a non-empty 2-D array, got shape {pixels.shape}")
    return float(np.count_nonzero(pixels > 127)) / pixels.size


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """Wrap a mask array as a Pillow "L" image (white = hole)."""
    pixels = np.asarray(mask)
    if pixels.ndim != 2:
        raise ValueError(f"a mask must be a 2-D array, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise ValueError(f"a mask must be uint8 (0 = keep, 255 = hole), got {pixels.dtype}")
    return Image.fromarray(pixels).convert("L")


def save_mask(mask: np.ndarray, path: str | os.PathLike) -> Path:
    """Write `mask` as a PNG at `path` atomically and return the path.

    The PNG goes to a temporary file in the same folder and is then renamed over
    `path`, so readers never see a half-written mask.
    """
    path = Path(path)
    image = mask_to_image(mask)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as stream:
            image.save(stream, format="PNG")

    return write_atomic(path, write)


def save_masks(specs: Iterable[MaskSpec], out_dir: str | os.PathLike) -> list[Path]:
    """Write each mask to `out_dir` under its MaskSpec.filename; return the paths."""
    out_dir = Path(out_dir)
    return [save_mask(spec.mask, out_dir / spec.filename) for spec in specs]


def write_mask_set(
    out_dir: str | os.PathLike,
    count: int,
    size: Size,
    seed: int,
    kinds: Sequence[str] = MASK_KINDS,
    bins: Sequence[RatioBin] = HOLE_RATIO_BINS,
) -> list[Path]:
    """Generate `count` masks and write them as PNGs into `out_dir` (for the CLI)."""
    return save_masks(generate_masks(count, size, seed, kinds, bins), out_dir)


# --- fitting a mask into its bin -------------------------------------------------


def _fill_to_hole_count(
    size: tuple[int, int],
    drawer: ElementDrawer,
    min_holes: int,
    max_holes: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Add elements until the hole count lies in [min_holes, max_holes]; None if out of budget."""
    area = size[0] * size[1]
    for _attempt in range(_MAX_ATTEMPTS):
        # Stopping at a random point in the lower half of the bin spreads ratios
        # across it instead of piling them at its low edge, and still leaves at
        # least half the bin of room for the last element.
        target_holes = int(rng.integers(min_holes, (min_holes + max_holes) // 2 + 1))
        canvas = Image.new("L", size, KEEP)
        scale = 1.0
        misses = 0
        for _element in range(_MAX_ELEMENTS_PER_ATTEMPT):
            candidate = canvas.copy()
            drawer(ImageDraw.Draw(candidate), rng, size, scale)
            # Drawing uses only 0 and 255, so every non-zero pixel is hole.
            holes = area - candidate.histogram()[KEEP]
            if holes > max_holes:
                misses += 1
                if misses >= _MAX_CONSECUTIVE_MISSES:
                    break
                scale = max(scale * _SHRINK_PER_MISS, _MIN_SCALE)
                continue
            canvas, misses = candidate, 0
            if holes >= target_holes:
                return np.array(canvas, dtype=np.uint8)
    return None


def _hole_count_range(low: float, high: float, area: int) -> tuple[int, int]:
    """Smallest and largest hole pixel counts whose ratio lies in [low, high).

    Checked with the same division hole_ratio() uses, so float rounding at the
    bin edges cannot let a mask land just outside its bin.
    """
    min_holes = max(1, math.floor(low * area))  # a mask must have some hole
    while min_holes / area < low:
        min_holes += 1
    max_holes = math.ceil(high * area)
    while max_holes / area >= high:
        max_holes -= 1
    return min_holes, max_holes


# --- element drawers -------------------------------------------------------------


def _draw_stroke(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    size: tuple[int, int],
    scale: float,
    width_range: tuple[float, float],
) -> None:
    """A brush stroke: a random walk of segments with round joints and ends."""
    width, height = size
    shorter_side = min(size)
    stroke_width = max(1, round(rng.uniform(*width_range) * shorter_side))
    segment_count = int(rng.integers(1, _MAX_STROKE_SEGMENTS + 1))
    point = np.array([rng.uniform(0, width), rng.uniform(0, height)])
    heading = rng.uniform(0, 2 * math.pi)
    vertices = [tuple(point)]
    for _ in range(segment_count):
        heading += rng.uniform(-_MAX_STROKE_TURN, _MAX_STROKE_TURN)
        length = rng.uniform(*_STROKE_SEGMENT_LENGTH) * shorter_side * scale
        step = length * np.array([math.cos(heading), math.sin(heading)])
        point = np.clip(point + step, 0, [width - 1, height - 1])
        vertices.append(tuple(point))
    draw.line(vertices, fill=HOLE, width=stroke_width)
    # Pillow's wide lines have square, gapped joints; discs make them round like a brush.
    radius = stroke_width / 2
    for x, y in vertices:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=HOLE)


def _draw_box(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: tuple[int, int], scale: float
) -> None:
    """An axis-aligned rectangle that lies fully inside the image."""
    width, height = size
    box_width = rng.uniform(*_BOX_SIDE) * width * scale
    box_height = rng.uniform(*_BOX_SIDE) * height * scale
    left = rng.uniform(0, width - box_width)
    top = rng.uniform(0, height - box_height)
    draw.rectangle((left, top, left + box_width, top + box_height), fill=HOLE)


def _draw_blob(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: tuple[int, int], scale: float
) -> None:
    """An object-like shape: a circle whose radius is bent by a few low-frequency cosines."""
    width, height = size
    mean_radius = rng.uniform(*_BLOB_RADIUS) * min(size) * scale
    center_x, center_y = rng.uniform(0, width), rng.uniform(0, height)
    frequencies = np.arange(2, 2 + _BLOB_HARMONICS)
    # Weaker high frequencies keep the outline smooth rather than spiky.
    amplitudes = rng.uniform(0, _BLOB_WOBBLE, _BLOB_HARMONICS) / frequencies
    phases = rng.uniform(0, 2 * math.pi, _BLOB_HARMONICS)
    angles = np.linspace(0, 2 * math.pi, _BLOB_VERTICES, endpoint=False)
    wobble = np.cos(np.outer(angles, frequencies) + phases) @ amplitudes
    radii = mean_radius * (1 + wobble)
    xs = center_x + radii * np.cos(angles)
    ys = center_y + radii * np.sin(angles)
    draw.polygon(list(zip(xs.tolist(), ys.tolist())), fill=HOLE)


_DRAWERS: dict[str, ElementDrawer] = {
    **{kind: partial(_draw_stroke, width_range=widths) for kind, widths in _STROKE_WIDTHS.items()},
    "box": _draw_box,
    "blob": _draw_blob,
}


# --- argument checks -------------------------------------------------------------


def _drawer_for(kind: str) -> ElementDrawer:
    try:
        return _DRAWERS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}"
        ) from None


def _checked_size(size: Size) -> tuple[int, int]:
    """(width, height) from an int or a pair of positive ints."""
    if _is_int(size):
        size = (size, size)
    try:
        width, height = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be an int or a (width, height) pair, got {size!r}") from None
    if not (_is_int(width) and _is_int(height)) or width <= 0 or height <= 0:
        raise ValueError(f"size must be positive integers (width, height), got {size!r}")
    return int(width), int(height)


def _checked_bin(ratio_bin: RatioBin) -> RatioBin:
    try:
        low, high = (float(bound) for bound in ratio_bin)
    except (TypeError, ValueError):
        raise ValueError(f"a hole ratio bin must be a (low, high) pair, got {ratio_bin!r}") from None
    if not (0.0 <= low < high <= MAX_HOLE_RATIO):
        raise ValueError(
            f"hole ratio bin {ratio_bin!r} is impossible: need 0 <= low < high <= {MAX_HOLE_RATIO}"
        )
    return low, high


def _check_seed(seed: int) -> None:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _derived_seed(seed: int, index: int) -> int:
    """An independent seed for mask `index`, so nearby set seeds don't share masks."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])
