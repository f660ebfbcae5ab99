"""Conformance vectors: a bundle's graph inputs with the outputs Python gets from them, for app runtimes to replay.

    write_conformance_vectors("bundles/tiny-int8")   # or: moebius-edge conformance bundles/tiny-int8

writes `<bundle>/conformance/`: `vectors.json` ({"format_version", "sample", "seed", "tensors": {name: {file,
shape, dtype}}}) and one raw little-endian file per tensor, readable from C++ or JavaScript with no library:

- `encode.image`, `encode.mask` → `encode.masked_latents`, `encode.mask_latent` (+ `encode.clean_latents` at
  strength < 1): float32, NCHW.
- `step.x`, `step.masked_latents`, `step.mask_latent`, `step.index` (int64 [1]) → `step.next_x`: a step from the
  middle of the real trajectory.
- `decode.x` → `decode.image` (float32 in [0,1]).
- `inpaint.image` (uint8 RGBA [S,S,4]), `inpaint.mask` (uint8 [S,S], 255 = hole), `inpaint.noise` (float32
  [1,C,L,L]: app runtimes cannot reproduce torch's generator, so they take this noise) → `inpaint.output`
  (uint8 RGBA, alpha 255); `paste.generated` (uint8 RGBA: the decoded square before paste-back) lets a runtime
  check its paste-back alone.

Every expected value comes from the Python runner of the same bundle (`edge_sdk.load`), the one its users get.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image

from edge_sdk.atomic_files import publish_folder
from edge_sdk.errors import EdgeSDKError
from edge_sdk.imaging import center_square, load_image, load_mask
from edge_sdk.inpainting import (
    LATENT_CHANNELS,
    LATENT_FACTOR,
    image_to_tensor,
    mask_to_tensor,
    paste_hole,
    tensor_to_image,
)

VECTOR_FORMAT_VERSION = 1
FOLDER = "conformance"
DEFAULT_SAMPLE = "astronaut"  # a bundled 512² photo with its mask
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


class ConformanceError(EdgeSDKError):
    pass


def _sample_paths(name: str) -> tuple[Path, Path]:
    image_path, mask_path = SAMPLES_DIR / f"{name}.jpg", SAMPLES_DIR / f"{name}_mask.png"
    if not image_path.is_file() or not mask_path.is_file():
        available = sorted(p.stem for p in SAMPLES_DIR.glob("*.jpg"))
        raise ConformanceError(f"no bundled sample {name!r}: use one of {', '.join(available)}")
    return image_path, mask_path


def _sample(name: str, side: int) -> tuple[Image.Image, np.ndarray]:
    """The bundled sample photo and hole, centre-cropped and resized to the model's square if needed."""
    image_path, mask_path = _sample_paths(name)
    image = load_image(image_path)
    hole = load_mask(mask_path, image.size)
    if image.size != (side, side):
        image = center_square(image, side, Image.BICUBIC)
        hole = np.asarray(center_square(Image.fromarray(hole), side, Image.NEAREST), dtype=bool)
    if not hole.any():
        raise ConformanceError(f"sample {name!r} has no hole at {side}×{side}")
    return image, hole


def _rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)


class _VectorWriter:
    def __init__(self, folder: Path):
        self.folder = folder
        self.tensors: dict[str, dict] = {}

    def put(self, name: str, value) -> np.ndarray:
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        if array.dtype not in (np.float32, np.int64, np.uint8):
            raise ConformanceError(f"vector {name} has dtype {array.dtype}; vectors are float32, int64 or uint8")
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        file = f"{name}.bin"
        array.tofile(self.folder / file)
        self.tensors[name] = {"file": file, "shape": list(array.shape), "dtype": str(array.dtype.newbyteorder("="))}
        return array


def write_conformance_vectors(
    bundle_dir: Union[str, os.PathLike], *, sample: str = DEFAULT_SAMPLE, seed: int = 0
) -> Path:
    """Writes `<bundle_dir>/conformance/` (replacing an older one atomically) and returns its path."""
    import edge_sdk

    bundle_dir = Path(bundle_dir)
    if not (bundle_dir / "manifest.json").is_file():
        raise ConformanceError(f"not a bundle folder (no manifest.json): {bundle_dir}")
    _sample_paths(sample)  # a wrong name fails before the (slow) bundle load
    bundle = edge_sdk.load(bundle_dir)
    graphs = bundle.graphs
    side, steps = bundle.image_size, len(bundle.timesteps)
    latent_side = side // LATENT_FACTOR
    image, hole = _sample(sample, side)

    def build(staging: Path) -> None:
        vectors = _VectorWriter(staging)
        # Inputs are made contiguous: ExecuTorch's Python runtime reads a strided tensor's memory as if it were not.
        image_tensor = image_to_tensor(image).contiguous()
        mask_tensor = mask_to_tensor(hole).contiguous()
        with torch.no_grad():
            encoded = graphs.encode(image_tensor, mask_tensor)
            masked_latents, mask_latent = encoded[0], encoded[1]
            vectors.put("encode.image", image_tensor)
            vectors.put("encode.mask", mask_tensor)
            vectors.put("encode.masked_latents", masked_latents)
            vectors.put("encode.mask_latent", mask_latent)
            if len(encoded) > 2:
                vectors.put("encode.clean_latents", encoded[2])

            # The noise the runner's inpaint draws for a model-size image: one crop, seeded as inpaint_any_size does.
            generator = torch.Generator().manual_seed(seed)
            noise = torch.randn(1, LATENT_CHANNELS, latent_side, latent_side, generator=generator)
            x = graphs.start_latent(noise, *encoded[2:])
            middle = steps // 2
            for i in range(steps):
                if i == middle:
                    vectors.put("step.x", x)
                    vectors.put("step.masked_latents", masked_latents)
                    vectors.put("step.mask_latent", mask_latent)
                    vectors.put("step.index", np.array([i], dtype=np.int64))
                x = graphs.step(x, masked_latents, mask_latent, i)
                if i == middle:
                    vectors.put("step.next_x", x)
            decoded = graphs.decode(x)
            vectors.put("decode.x", x)
            vectors.put("decode.image", decoded)

        output = bundle.inpaint(image, Image.fromarray(hole.astype(np.uint8) * 255), seed=seed)
        # The runner's inpaint must equal its own graphs driven by this noise, or the vectors would not say
        # what an app runtime has to reproduce.
        generated = tensor_to_image(decoded)
        if not np.array_equal(np.asarray(paste_hole(image, generated, hole)), np.asarray(output)):
            raise ConformanceError(
                "the bundle's inpaint differs from its graphs run step by step with the seeded noise: "
                "the runner draws its noise differently, so no replayable vector can be written"
            )
        vectors.put("inpaint.image", _rgba(image))
        vectors.put("inpaint.mask", hole.astype(np.uint8) * 255)
        vectors.put("inpaint.noise", noise)
        vectors.put("inpaint.output", _rgba(output))
        vectors.put("paste.generated", _rgba(generated))

        index = {
            "format_version": VECTOR_FORMAT_VERSION,
            "sample": sample,
            "seed": seed,
            "image_size": side,
            "steps": steps,
            "step_index": middle,
            "tensors": vectors.tensors,
        }
        (staging / "vectors.json").write_text(json.dumps(index, indent=1) + "\n")

    return publish_folder(build, bundle_dir / FOLDER)
