"""Training data: random crops and flips from a folder of photos, masks, and precomputed latent triples.

Denoiser training is latent-only: every (photo crop, mask) pair is VAE-encoded once, before training,
into (clean latent, masked-image latent, latent mask), the three tensors the denoiser sees.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from edge_sdk.atomic_files import write_atomic
from edge_sdk.errors import EdgeSDKError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Mask kinds drawn for training: strokes for scribbled removals, boxes and blobs for objects.
TRAIN_MASK_KINDS = ("thin", "medium", "thick", "box", "blob")


class DataError(EdgeSDKError):
    pass


def list_photos(folder: Union[str, Path]) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"photo folder not found: {folder}")
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise DataError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {folder}")
    return photos


def split_photos(photos: Sequence[Path], hold_out_every: int = 7, offset: int = 3) -> tuple[list[Path], list[Path]]:
    """(train, held_out): every `hold_out_every`-th photo of the sorted list is kept out of training.

    Deterministic, so the evaluation script finds the same held-out photos from the folder alone.
    """
    photos = sorted(photos)
    if hold_out_every <= 0:
        return list(photos), []
    held = [p for i, p in enumerate(photos) if i % hold_out_every == offset % hold_out_every]
    return [p for p in photos if p not in held], held


class PhotoCrops:
    """Random square crops of photos rescaled by a random factor in [min_scale, max_scale] (never below the crop)."""

    def __init__(self, photos: Sequence[Path], crop: int, min_scale: float = 0.5, max_scale: float = 1.0):
        if not photos:
            raise DataError("no training photos")
        self.crop = crop
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.images = [Image.open(p).convert("RGB") for p in photos]
        for path, image in zip(photos, self.images):
            if min(image.size) < crop:
                raise DataError(f"{path.name} is {image.width}×{image.height}, smaller than the {crop}px crop")

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One crop, uint8 [crop, crop, 3], randomly scaled, placed and flipped."""
        image = self.images[int(rng.integers(len(self.images)))]
        short = min(image.size)
        low = max(self.min_scale, self.crop / short)
        high = max(low, self.max_scale)
        scale = float(rng.uniform(low, high))
        if scale < 0.999:
            size = (max(self.crop, round(image.width * scale)), max(self.crop, round(image.height * scale)))
            image = image.resize(size, Image.BICUBIC)
        left = int(rng.integers(image.width - self.crop + 1))
        top = int(rng.integers(image.height - self.crop + 1))
        pixels = np.asarray(image.crop((left, top, left + self.crop, top + self.crop)))
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        return np.ascontiguousarray(pixels)

    def batch(self, size: int, rng: np.random.Generator) -> torch.Tensor:
        """[size, 3, crop, crop] in [-1, 1]."""
        pixels = np.stack([self.sample(rng) for _ in range(size)]).astype(np.float32)
        return torch.from_numpy(pixels).permute(0, 3, 1, 2) / 127.5 - 1.0


def random_mask(side: int, rng: np.random.Generator, kinds: Sequence[str] = TRAIN_MASK_KINDS, zoom: int = 1) -> np.ndarray:
    """A bool [side, side] hole from the calibration mask generator (kind and ratio bin drawn by `rng`).

    With `zoom` > 1 the mask is drawn for a zoom·side canvas and a side×side window holding some hole is
    cut from it: holes as many pixels wide as on the larger image (a model trained on 256 px crops meets
    512 px holes, twice as many latent cells wide, at inference).
    """
    from edge_sdk.mask_generator import generate_mask

    kind = kinds[int(rng.integers(len(kinds)))]
    canvas = generate_mask(side * zoom, kind, None, seed=int(rng.integers(2**31))) > 127
    if zoom == 1:
        return canvas
    corners = range(0, side * (zoom - 1) + 1, side // 4)
    windows = [(top, left) for top in corners for left in corners]
    holding = [w for w in windows if canvas[w[0] : w[0] + side, w[1] : w[1] + side].mean() >= 0.02] or windows
    top, left = holding[int(rng.integers(len(holding)))]
    return canvas[top : top + side, left : left + side]


def latent_mask(mask: torch.Tensor, latent_side: int) -> torch.Tensor:
    """Nearest downsampling, as the inference pipeline does."""
    return F.interpolate(mask, size=(latent_side, latent_side))


@torch.no_grad()
def encode_triples(
    vae,
    crops: PhotoCrops,
    count: int,
    rng: np.random.Generator,
    batch: int = 4,
    progress: bool = True,
    zooms: Sequence[int] = (1,),
    hole_fill: str = "zero",
) -> "LatentTriples":
    """`count` (clean latent, masked latent, latent mask) triples of random crops with random masks, each
    mask drawn at a zoom picked from `zooms` (see `random_mask`), the hole zeroed or filled as the model to
    be trained expects (`MoebiusConfig.hole_fill`)."""
    from tqdm.auto import tqdm

    from edge_sdk.hole_fill import masked_image
    from edge_sdk.vae import encode_mean

    latents, masked, masks = [], [], []
    side = crops.crop // 8
    with tqdm(total=count, desc="encoding latents", disable=not progress) as bar:
        while sum(len(x) for x in latents) < count:
            n = min(batch, count - sum(len(x) for x in latents))
            images = crops.batch(n, rng)
            drawn = [random_mask(crops.crop, rng, zoom=zooms[int(rng.integers(len(zooms)))]) for _ in range(n)]
            holes = torch.from_numpy(np.stack(drawn)).float()[:, None]
            latents.append(encode_mean(vae, images))
            masked.append(encode_mean(vae, masked_image(images, holes, hole_fill)))
            masks.append(latent_mask(holes, side))
            bar.update(n)
    return LatentTriples({"latents": torch.cat(latents), "masked_latents": torch.cat(masked), "mask_latent": torch.cat(masks)}, hole_fill)


class LatentTriples:
    """Precomputed triples in memory; batches with optional horizontal flips (flipping all three together).

    `hole_fill` says what the encoder saw in the hole (`MoebiusConfig.hole_fill`): a model trained on them
    must be conditioned the same way. Saved in the file's metadata; files without it were zero-filled.
    """

    KEYS = ("latents", "masked_latents", "mask_latent")

    def __init__(self, tensors: dict, hole_fill: str = "zero"):
        from edge_sdk.hole_fill import HOLE_FILLS

        if hole_fill not in HOLE_FILLS:
            raise DataError(f"latent hole_fill {hole_fill!r}: use one of {', '.join(HOLE_FILLS)}")
        self.hole_fill = hole_fill
        missing = [k for k in self.KEYS if k not in tensors]
        if missing:
            raise DataError(f"latent file lacks {', '.join(missing)}")
        self.tensors = {k: tensors[k].float() for k in self.KEYS}
        lengths = {len(t) for t in self.tensors.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise DataError("latent file tensors must be non-empty and of equal length")

    @classmethod
    def load(cls, path: Union[str, Path]) -> "LatentTriples":
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise DataError(f"latent file not found: {path}")
        try:
            with safe_open(str(path), "pt") as handle:  # one read for the metadata and the tensors
                hole_fill = (handle.metadata() or {}).get("hole_fill", "zero")
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            return cls(tensors, hole_fill)
        except (SafetensorError, OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable safetensors file: {exc}") from None

    def save(self, path: Union[str, Path]) -> None:
        from safetensors.torch import save_file

        tensors = {k: v.contiguous() for k, v in self.tensors.items()}
        write_atomic(path, lambda temporary: save_file(tensors, str(temporary), metadata={"hole_fill": self.hole_fill}))

    def __len__(self) -> int:
        return len(self.tensors["latents"])

    @property
    def latent_side(self) -> int:
        return int(self.tensors["latents"].shape[-1])

    def batch(self, size: int, generator: torch.Generator, flip: bool = True) -> dict:
        index = torch.randint(len(self), (size,), generator=generator)
        out = {k: v[index] for k, v in self.tensors.items()}
        if flip:
            flips = torch.rand(size, generator=generator) < 0.5
            out = {k: torch.where(flips[:, None, None, None], v.flip(-1), v) for k, v in out.items()}
        return out
