"""`make demo`: inpaint the bundled sample photos, write before/after pictures and a short report."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from edge_sdk.atomic_files import write_text_atomic
from edge_sdk.imaging import load_image, load_mask, save_image_atomic
from edge_sdk.samples import sample_pairs

HOLE_TINT = np.array([255, 0, 160], dtype=np.float32)  # magenta: visible on most photos


def mark_hole(image: Image.Image, hole: np.ndarray) -> Image.Image:
    """The input with the hole tinted, so the 'before' panel shows what is removed."""
    pixels = np.asarray(image, dtype=np.float32).copy()
    pixels[hole] = 0.4 * pixels[hole] + 0.6 * HOLE_TINT
    return Image.fromarray(pixels.astype(np.uint8))


def before_after(image: Image.Image, hole: np.ndarray, result: Image.Image) -> Image.Image:
    gap = 8
    canvas = Image.new("RGB", (2 * image.width + gap, image.height), (255, 255, 255))
    canvas.paste(mark_hole(image, hole), (0, 0))
    canvas.paste(result, (image.width + gap, 0))
    return canvas


def run_demo(pipe, out_dir, *, steps=20, guidance_scale=2.5, strength=None, seed=0) -> Path:
    """Inpaint every sample (strength None: the model's default); returns the path of the Markdown report."""
    strength = pipe.default_strength if strength is None else strength
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_path, mask_path in tqdm(sample_pairs(), desc="demo", unit="photo"):
        image = load_image(image_path)
        hole = load_mask(mask_path, image.size)
        started = time.perf_counter()
        result = pipe(image, hole, steps=steps, guidance_scale=guidance_scale, strength=strength, seed=seed, progress=False)
        seconds = time.perf_counter() - started
        name = image_path.stem
        save_image_atomic(result, out_dir / f"{name}_inpainted.png")
        save_image_atomic(before_after(image, hole, result), out_dir / f"{name}_before_after.png")
        unchanged = np.array_equal(np.asarray(result)[~_near(hole)], np.asarray(image)[~_near(hole)])
        rows.append((name, f"{image.width}×{image.height}", f"{100 * hole.mean():.1f}%", f"{seconds:.1f}", "yes" if unchanged else "NO"))

    lines = [
        "# Moebius Edge demo",
        "",
        f"Model: `{pipe.name}` ({sum(p.numel() for p in pipe.denoiser.parameters()):,} denoiser parameters), "
        f"{steps} steps, guidance {guidance_scale}, strength {strength}, seed {seed}.",
        "",
    ]
    if pipe.notice:
        lines += [f"**Note:** {pipe.notice}.", ""]
    lines += [
        "Left: the input with the hole tinted; right: the result. Pixels away from the hole are kept exactly.",
        "",
        "| sample | size | hole | seconds | outside kept |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {' | '.join(row)} |" for row in rows],
        "",
        *[f"![{row[0]}]({row[0]}_before_after.png)" for row in rows],
        "",
    ]
    report = out_dir / "report.md"
    write_text_atomic(report, "\n".join(lines))
    return report


def _near(hole: np.ndarray, reach: int = 12) -> np.ndarray:
    """The hole grown by the paste-back blur's reach: outside it the output must equal the input."""
    from scipy import ndimage

    return ndimage.binary_dilation(hole, iterations=reach)
