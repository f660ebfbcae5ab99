"""Image quality next to speed: PSNR of a bundle's final image against the fp32 reference pipeline.

Both go through `inpaint_any_size` (crop, resize, seeded noise, paste-back) with the same seed, so the only
difference is the graphs. PSNR is over the whole image and over the hole alone (outside the hole both
paste back the original, so the whole-image number mostly dilutes the hole's).
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

SEED = 0


def psnr(actual: np.ndarray, expected: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB of 8-bit images (peak 255), over every pixel or the pixels where `where` is set; +inf if equal."""
    diff = actual.astype(np.float64) - expected.astype(np.float64)
    if where is not None:
        diff = diff[where]
    if diff.size == 0:
        raise ValueError("the hole selects no pixel")
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


@dataclasses.dataclass
class SampleQuality:
    sample: str
    psnr_db: float
    psnr_hole_db: float

    def to_dict(self) -> dict:
        # JSON has no infinity: identical images are reported as null with `identical`.
        finite = lambda v: None if math.isinf(v) else round(v, 3)
        return {"sample": self.sample, "psnr_db": finite(self.psnr_db), "psnr_hole_db": finite(self.psnr_hole_db),
                "identical": math.isinf(self.psnr_db)}


def inpaint_samples(run: Callable, image_size: int, count: int, tick: Callable[[], None]) -> tuple[list[tuple[str, Image.Image, np.ndarray]], float]:
    """Inpaint the first `count` bundled samples with `run` (a graphs.run); returns
    ([(name, result, hole)], seconds of the first inpaint — the end-to-end time of one photo)."""
    from edge_sdk.imaging import load_image, load_mask
    from edge_sdk.inpainting import inpaint_any_size
    from edge_sdk.samples import sample_pairs

    results, first_seconds = [], None
    for image_path, mask_path in sample_pairs()[:count]:
        picture = load_image(image_path)
        hole = load_mask(mask_path, picture.size)
        start = time.perf_counter()
        result = inpaint_any_size(run, image_path, mask_path, model_size=image_size, seed=SEED)
        if first_seconds is None:
            first_seconds = time.perf_counter() - start
        results.append((Path(image_path).stem, result, hole))
        tick()
    return results, first_seconds


def compare(results: list, references: list) -> list[SampleQuality]:
    out = []
    for (name, image, hole), (ref_name, reference, _) in zip(results, references):
        assert name == ref_name
        a, b = np.asarray(image.convert("RGB")), np.asarray(reference.convert("RGB"))
        out.append(SampleQuality(name, psnr(a, b), psnr(a, b, hole.astype(bool))))
    return out


def summary(samples: list[SampleQuality]) -> dict:
    """Per-sample PSNR and the mean (of finite values; all identical → null means, `identical` true)."""
    def mean(values):
        finite = [v for v in values if not math.isinf(v)]
        return round(sum(finite) / len(finite), 3) if finite else None

    return {
        "samples": [s.to_dict() for s in samples],
        "psnr_db": mean([s.psnr_db for s in samples]),
        "psnr_hole_db": mean([s.psnr_hole_db for s in samples]),
    }
