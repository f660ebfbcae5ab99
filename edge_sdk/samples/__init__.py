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


def sample_square(index: int, size: int):
    """Bundled sample `index` resized (not cropped) to size×size, as the graphs take it: image [1,3,S,S] in
    [−1,1], mask [1,1,S,S] in {0,1}. Test vectors and benchmarks feed this; torch loads only when called."""
    import numpy as np
    from PIL import Image

    from edge_sdk.imaging import load_image, load_mask
    from edge_sdk.inpainting import image_to_tensor, mask_to_tensor

    image_path, mask_path = sample_pairs()[index]
    picture = load_image(image_path)
    hole = load_mask(mask_path, picture.size)
    square = picture.resize((size, size), Image.BICUBIC)
    square_hole = np.asarray(Image.fromarray(hole).resize((size, size), Image.NEAREST), dtype=bool)
    return image_to_tensor(square), mask_to_tensor(square_hole)
