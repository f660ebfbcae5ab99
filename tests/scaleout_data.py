"""Small inpainting inputs for the scale-out tests: bundled samples shrunk, with their masks, and a manifest."""
import csv
from pathlib import Path

from PIL import Image

SIDE = (160, 120)


def write_rows(folder: Path, names, seeds=None, bad_mask: str = None) -> list[dict]:
    """Shrunk copies of the named bundled samples (and masks) in `folder`; `bad_mask` gets a mask of the
    wrong size. Returns manifest rows (image, mask, seed, output)."""
    from edge_sdk.samples import sample_pairs

    pairs = {image.stem: (image, mask) for image, mask in sample_pairs()}
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, name in enumerate(names):
        image, mask = pairs[name]
        Image.open(image).convert("RGB").resize(SIDE, Image.BICUBIC).save(folder / f"{name}.png")
        mask_size = (SIDE[0] // 2, SIDE[1]) if name == bad_mask else SIDE
        Image.open(mask).convert("L").resize(mask_size, Image.NEAREST).save(folder / f"{name}_mask.png")
        seed = seeds[index] if seeds else 0
        rows.append({"image": f"{name}.png", "mask": f"{name}_mask.png", "seed": seed, "output": f"filled/{name}.png"})
    return rows


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
