"""The calibration set: step-graph inputs recorded along real sampling trajectories, cached on disk.

For every (image, mask, noise) the deploy graphs run the whole DDIM + CFG loop in fp32: encode, then
`graphs.step` at every retained timestep. The step graph's inputs (x, masked_latents, mask_latent, i) at
the chosen steps are the calibration samples; each one runs both CFG branches inside the graph, exactly as
a deployment sees them. The fp32 trajectories are kept as the reference the quantized graph is measured
against (latent drift per step, ε per step, final image).

Sets are cached under a folder named by a sha256 of everything that determines them: the denoiser and VAE
weights, the preprocessed images and masks, and the settings.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from edge_sdk import mask_generator
from edge_sdk.atomic_files import publish_folder, write_atomic
from edge_sdk.calibration.errors import CalibrationError
from edge_sdk.imaging import center_square, load_image, load_mask

FORMAT_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
_META = "meta.json"
_TENSORS = "tensors.safetensors"
_REFERENCE = "reference_{index}.safetensors"


@dataclasses.dataclass(frozen=True)
class CalibrationImage:
    """A square model-size image in [−1, 1] and its hole mask in {0, 1}, ready for the encode graph."""

    name: str
    image: torch.Tensor  # [1, 3, S, S]
    mask: torch.Tensor  # [1, 1, S, S] float, 1 = hole

    def digest(self) -> str:
        hasher = hashlib.sha256(self.name.encode())
        hasher.update(self.image.numpy().tobytes())
        hasher.update(self.mask.numpy().tobytes())
        return hasher.hexdigest()


@dataclasses.dataclass(frozen=True)
class RecordSettings:
    """How trajectories are recorded. `steps`, `strength` and `guidance_scale` are the deployment's."""

    steps: int = 20
    strength: float = 1.0
    guidance_scale: float = 2.5
    steps_per_image: int = 10  # retained steps recorded, evenly spaced over the trajectory
    noises_per_image: int = 1
    seed: int = 0
    only_step: Optional[int] = None  # record one step index only (for comparisons); the run stops there

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- inputs -----------------------------------------------------------------------------------------


def load_images(
    images_dir: Union[str, Path, None],
    masks_dir: Union[str, Path, None],
    num_images: int,
    image_size: int,
    seed: int = 0,
) -> list[CalibrationImage]:
    """`num_images` images (sorted by name) from `images_dir`, or the bundled samples when None.

    Masks come from `masks_dir` (``<stem>.png`` or ``<stem>_mask.png``, same size as the image, white =
    hole) or, when None, from the seeded generator in `edge_sdk.mask_generator` (kinds and hole ratios cycle).
    Images are centre-cropped to a square and resized to the model size.
    """
    if num_images < 1:
        raise CalibrationError(f"the number of calibration images must be at least 1, got {num_images}")
    paths = _image_paths(images_dir)
    if len(paths) < num_images:
        where = images_dir if images_dir is not None else "the bundled samples"
        raise CalibrationError(f"{num_images} calibration images asked for, but {where} has only {len(paths)}")
    paths = paths[:num_images]
    generated = None
    if masks_dir is None:
        generated = mask_generator.generate_masks(num_images, image_size, seed)
    elif not Path(masks_dir).is_dir():
        raise CalibrationError(f"mask folder not found: {masks_dir}")
    items = []
    for index, path in enumerate(paths):
        picture = load_image(path)
        if generated is not None:
            square = center_square(picture, image_size, Image.BICUBIC)
            hole = torch.from_numpy((generated[index].mask > 127).astype(np.float32))
        else:
            mask_path = _mask_for(path, Path(masks_dir))
            hole_full = load_mask(mask_path, picture.size)
            square = center_square(picture, image_size, Image.BICUBIC)
            hole_image = center_square(Image.fromarray(hole_full.astype(np.uint8) * 255), image_size, Image.NEAREST)
            hole = torch.from_numpy((np.asarray(hole_image) > 127).astype(np.float32))
            if not bool(hole.any()):
                raise CalibrationError(f"the mask {mask_path} has no hole inside the centre square of {path.name}")
        pixels = torch.from_numpy(np.asarray(square, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0
        items.append(CalibrationImage(path.stem, pixels.contiguous(), hole[None, None].contiguous()))
    return items


def _image_paths(images_dir) -> list[Path]:
    if images_dir is None:
        from edge_sdk.samples import sample_pairs

        return [image for image, _ in sample_pairs()]
    folder = Path(images_dir)
    if not folder.is_dir():
        raise CalibrationError(f"image folder not found: {folder}")
    return sorted(
        path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and not path.stem.endswith("_mask")
    )


def _mask_for(image_path: Path, masks_dir: Path) -> Path:
    for stem in (image_path.stem, f"{image_path.stem}_mask"):
        for suffix in IMAGE_SUFFIXES:
            candidate = masks_dir / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    raise CalibrationError(f"no mask for {image_path.name} in {masks_dir} (expected {image_path.stem}.png or {image_path.stem}_mask.png)")


# --- the recorded set ---------------------------------------------------------------------------------


@dataclasses.dataclass
class CalibrationSet:
    """Recorded trajectories. Entry e = (image, noise) pair; its trajectory has one latent per step run, plus
    the start. `retained[e]` lists the step indices whose inputs are calibration samples."""

    data_hash: str
    settings: RecordSettings
    timesteps: tuple[int, ...]
    names: list[str]  # per entry: "<image>#<noise index>"
    masked_latents: torch.Tensor  # [E, 4, h, w]
    mask_latent: torch.Tensor  # [E, 1, h, w]
    masks: torch.Tensor  # [E, 1, S, S] uint8, 1 = hole
    trajectories: torch.Tensor  # [E, steps run + 1, 4, h, w]
    retained: tuple[int, ...]
    folder: Optional[Path] = None
    _references: dict = dataclasses.field(default_factory=dict, repr=False)  # decoded fp32 finals, in memory

    @property
    def entries(self) -> int:
        return len(self.names)

    @property
    def complete(self) -> bool:
        """True when every trajectory reaches the final latent (needed to compare final images)."""
        return self.trajectories.shape[1] == len(self.timesteps) + 1

    def samples(self) -> list[tuple]:
        """Step-graph inputs (x, masked_latents, mask_latent, i), ordered by entry then step."""
        out = []
        for entry in range(self.entries):
            for index in self.retained:
                out.append(self.sample(entry, index))
        return out

    def sample(self, entry: int, index: int) -> tuple:
        return (
            self.trajectories[entry, index][None].clone(),
            self.masked_latents[entry][None].clone(),
            self.mask_latent[entry][None].clone(),
            torch.tensor([index], dtype=torch.int64),
        )

    def start(self, entry: int) -> torch.Tensor:
        return self.trajectories[entry, 0][None].clone()

    def hole(self, entry: int) -> torch.Tensor:
        return self.masks[entry][None].float()

    def reference_image(self, entry: int, decode) -> torch.Tensor:
        """The fp32 pipeline's final image for an entry (decoded once, then cached beside the set)."""
        if not self.complete:
            raise ValueError("this set stops before the last step: it has no final images")
        if entry in self._references:
            return self._references[entry]
        path = self.folder / _REFERENCE.format(index=entry) if self.folder is not None else None
        if path is not None and path.is_file():
            image = load_file(str(path))["image"]
        else:
            with torch.no_grad():
                image = decode(self.trajectories[entry, -1][None]).float().contiguous()
            if path is not None:
                write_atomic(path, lambda temporary: save_file({"image": image}, str(temporary)))
        self._references[entry] = image
        return image

    # --- storage -----------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        tensors = {
            "masked_latents": self.masked_latents.contiguous(),
            "mask_latent": self.mask_latent.contiguous(),
            "masks": self.masks.contiguous(),
            "trajectories": self.trajectories.contiguous(),
        }
        save_file(tensors, str(folder / _TENSORS))
        meta = {
            "format_version": FORMAT_VERSION,
            "data_hash": self.data_hash,
            "settings": self.settings.to_dict(),
            "timesteps": list(self.timesteps),
            "names": self.names,
            "retained": list(self.retained),
        }
        (folder / _META).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Union[str, Path]) -> "CalibrationSet":
        folder = Path(folder)
        try:
            meta = json.loads((folder / _META).read_text())
            tensors = load_file(str(folder / _TENSORS))
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"cannot read the calibration set in {folder}: {exc}") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise CalibrationError(f"the calibration set in {folder} has another format version; delete it to record again")
        return cls(
            data_hash=meta["data_hash"],
            settings=RecordSettings(**meta["settings"]),
            timesteps=tuple(meta["timesteps"]),
            names=list(meta["names"]),
            masked_latents=tensors["masked_latents"],
            mask_latent=tensors["mask_latent"],
            masks=tensors["masks"],
            trajectories=tensors["trajectories"],
            retained=tuple(meta["retained"]),
            folder=folder,
        )


def retained_steps(steps_run: int, count: int) -> tuple[int, ...]:
    """`count` step indices spread evenly over 0 … steps_run − 1, first and last included."""
    if count < 1:
        raise CalibrationError(f"steps per image must be at least 1, got {count}")
    if count > steps_run:
        raise CalibrationError(f"{count} steps per image asked for, but the schedule has only {steps_run} steps")
    return tuple(int(round(v)) for v in np.linspace(0, steps_run - 1, count))


def model_digest(*modules: torch.nn.Module) -> str:
    """sha256 of the modules' state dicts (names, dtypes, shapes and bytes)."""
    hasher = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            hasher.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def data_hash(model_hash: str, config, images: Sequence[CalibrationImage], settings: RecordSettings, timesteps: Sequence[int]) -> str:
    """The cache key of a recording. `config` (a MoebiusConfig) counts too: its output and hole-fill options
    change what the same weights compute."""
    hasher = hashlib.sha256(f"moebius-edge calibration set v{FORMAT_VERSION}".encode())
    hasher.update(model_hash.encode())
    hasher.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    for item in images:
        hasher.update(item.digest().encode())
    hasher.update(json.dumps({"settings": settings.to_dict(), "timesteps": list(timesteps)}, sort_keys=True).encode())
    return hasher.hexdigest()


@torch.no_grad()
def record(
    graphs,
    images: Sequence[CalibrationImage],
    settings: RecordSettings,
    model_hash: str,
    *,
    sample_step=None,
    progress: bool = True,
    first_index: int = 0,
) -> CalibrationSet:
    """Run the fp32 sampling loop of `graphs` (a DeployGraphs) on every image and noise, recording inputs.

    `sample_step`, when given, computes the steps whose inputs are samples instead of `graphs.step`: the
    same graph with PT2E observers attached computes the same numbers and calibrates during the recording.
    `first_index` is the first image's index in the whole set (its noise seed depends on it), for a
    recording split over workers.
    """
    timesteps = tuple(graphs.timesteps)
    if settings.steps != graphs.schedule.steps or abs(settings.strength - graphs.schedule.strength) > 1e-12:
        raise ValueError("the settings' steps and strength must match the graphs' schedule")
    if settings.noises_per_image < 1:
        raise CalibrationError(f"noises per image must be at least 1, got {settings.noises_per_image}")
    if settings.only_step is not None:
        if not 0 <= settings.only_step < len(timesteps):
            raise CalibrationError(f"step index {settings.only_step} is outside the schedule's {len(timesteps)} steps")
        retained, steps_run = (settings.only_step,), settings.only_step
    else:
        retained, steps_run = retained_steps(len(timesteps), settings.steps_per_image), len(timesteps)
    latent_side = graphs.config.sample_size
    names, masked, mask_latents, holes, trajectories = [], [], [], [], []
    total = len(images) * settings.noises_per_image * steps_run
    with tqdm(total=total, desc="recording trajectories", unit="step", disable=not progress, leave=False) as bar:
        for image_index, item in enumerate(images):
            masked_latents, mask_latent, *clean = graphs.encode(item.image, item.mask)
            for noise_index in range(settings.noises_per_image):
                generator = torch.Generator().manual_seed(_noise_seed(settings.seed, first_index + image_index, noise_index))
                noise = torch.randn(1, 4, latent_side, latent_side, generator=generator)
                x = graphs.start_latent(noise, *clean)
                trajectory = [x]
                for i in range(steps_run):
                    step = sample_step if sample_step is not None and i in retained else graphs.step
                    x = step(x, masked_latents, mask_latent, torch.tensor([i], dtype=torch.int64))
                    trajectory.append(x)
                    bar.update(1)
                names.append(f"{item.name}#{noise_index}")
                masked.append(masked_latents)
                mask_latents.append(mask_latent)
                holes.append(item.mask.to(torch.uint8))
                trajectories.append(torch.cat(trajectory))
    return CalibrationSet(
        data_hash=data_hash(model_hash, graphs.config, images, settings, timesteps),
        settings=settings,
        timesteps=timesteps,
        names=names,
        masked_latents=torch.cat(masked).float(),
        mask_latent=torch.cat(mask_latents).float(),
        masks=torch.cat(holes),
        trajectories=torch.stack(trajectories).float(),
        retained=retained,
    )


def load_or_record(
    graphs,
    images: Sequence[CalibrationImage],
    settings: RecordSettings,
    model_hash: str,
    cache_dir: Union[str, Path, None],
    *,
    sample_step=None,
    progress: bool = True,
) -> tuple[CalibrationSet, bool]:
    """The cached set for these inputs, or a fresh recording saved to the cache. Returns (set, was_cached):
    `sample_step` (see `record`) runs only when the set is recorded, not when it comes from the cache."""
    key = data_hash(model_hash, graphs.config, images, settings, graphs.timesteps)
    cached = cached_set(cache_dir, key)
    if cached is not None:
        return cached, True
    recorded = record(graphs, images, settings, model_hash, sample_step=sample_step, progress=progress)
    assert recorded.data_hash == key
    if cache_dir is not None:
        folder = publish_folder(recorded.save, Path(cache_dir) / key)
        recorded.folder = folder
    return recorded, False


def cached_set(cache_dir: Union[str, Path, None], key: str) -> Optional[CalibrationSet]:
    """The set cached under `key`, or None."""
    if cache_dir is None:
        return None
    folder = Path(cache_dir) / key
    if (folder / _META).is_file() and (folder / _TENSORS).is_file():
        cached = CalibrationSet.load(folder)
        if cached.data_hash == key:
            return cached
    return None


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "moebius-edge" / "calibration"


def _noise_seed(seed: int, image_index: int, noise_index: int) -> int:
    state = np.random.SeedSequence([seed, image_index, noise_index]).generate_state(1, np.uint64)[0]
    return int(state) & 0x7FFF_FFFF_FFFF_FFFF


__all__ = [
    "CalibrationImage",
    "CalibrationSet",
    "RecordSettings",
    "load_images",
    "load_or_record",
    "cached_set",
    "record",
    "retained_steps",
    "model_digest",
    "data_hash",
    "default_cache_dir",
]
