"""Bundled sample photos with inpainting masks (CC0 / public domain, see SOURCES.md)."""

from pathlib import Path

SAMPLES_DIR = Path(__file__).parent


def sample_pairs() -> list[tuple[Path, Path]]:
    """Return ``(image, mask)`` paths for every bundled sample, sorted by name.

    Masks are mode "L" PNGs of the image's size: 255 = hole to fill, 0 = keep.
    """
    return [
        (image, image.with_name(f"{image.stem}_mask.png"))
        for image in sorted(SAMPLES_DIR.iterdir())
        if image.suffix in (".jpg", ".png") and not image.stem.endswith("_mask")
    ]
