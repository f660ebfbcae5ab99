"""Where to run the 512² model on an image of any size: crops around holes (IOPaint's CROP strategy).

The model only works at its native square (its position tables are fixed to a 64×64 latent), so each
group of nearby holes gets a square crop with context around it, resized to the model's size; only
the hole is pasted back at full resolution. Holes whose crops would overlap share one crop.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

CONTEXT_MARGIN = 128  # pixels of context kept on each side of a hole's bounding box


@dataclasses.dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)

    def overlaps(self, other: "Box") -> bool:
        return self.left < other.right and other.left < self.right and self.top < other.bottom and other.top < self.bottom

    def union(self, other: "Box") -> "Box":
        return Box(min(self.left, other.left), min(self.top, other.top), max(self.right, other.right), max(self.bottom, other.bottom))


def hole_boxes(mask: np.ndarray) -> list[Box]:
    """Bounding boxes of the connected holes (8-connectivity)."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return [Box(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels) if s is not None]


def _span(centre: float, length: int, limit: int) -> tuple[int, int]:
    """An interval of `length` centred where possible, shifted to stay inside [0, limit)."""
    length = min(length, limit)
    start = int(round(centre - length / 2))
    start = min(max(start, 0), limit - length)
    return start, start + length


def context_crop(hole: Box, image_size: tuple[int, int], model_size: int, margin: int = CONTEXT_MARGIN) -> Box:
    """A square (where the image allows) around `hole` with `margin` of context, at least `model_size` wide.

    A crop of at least the model's size keeps small holes at native resolution; an image smaller
    than that is used whole and upscaled.
    """
    width, height = image_size
    side = max(hole.width + 2 * margin, hole.height + 2 * margin, model_size)
    left, right = _span((hole.left + hole.right) / 2, side, width)
    top, bottom = _span((hole.top + hole.bottom) / 2, side, height)
    return Box(left, top, right, bottom)


def plan_crops(mask: np.ndarray, model_size: int, margin: int = CONTEXT_MARGIN) -> list[tuple[Box, Box]]:
    """(crop, holes-inside) pairs covering every hole; holes whose crops overlap are merged until stable."""
    height, width = mask.shape
    groups = hole_boxes(mask)
    merged = True
    while merged:
        merged = False
        crops = [context_crop(box, (width, height), model_size, margin) for box in groups]
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if crops[i].overlaps(crops[j]):
                    groups[i] = groups[i].union(groups.pop(j))
                    merged = True
                    break
            if merged:
                break
    return [(context_crop(box, (width, height), model_size, margin), box) for box in groups]
