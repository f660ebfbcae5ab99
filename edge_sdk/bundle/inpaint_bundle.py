"""`load()` and what it returns, `InpaintBundle`: a bundle's programs opened in its runtime, run by the host loop.

The loop is the deploy graphs' own (`edge_sdk.deploy.host_loop`): encode → start latent → step i = 0..n−1 →
decode, here over the runner's programs, with the start latent's coefficients read from the manifest. Images
of any size go through `inpaint_any_size`, the reference pipeline's crop/paste/empty-mask logic with the same
seeded noise.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import torch

from edge_sdk.bundle.manifest import Bundle, read_bundle
from edge_sdk.deploy.host_loop import run_loop, start_latent


class BundleGraphs:
    """The three graphs of a bundle, called like `DeployGraphs`' (an int step index is accepted too)."""

    def __init__(self, runner, bundle: Bundle):
        self.runner = runner
        self.bundle = bundle
        self.timesteps = bundle.timesteps
        self.schedule = bundle.manifest.loop_schedule()

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.runner.encode(image, mask))

    def step(self, x, masked_latents, mask_latent, index) -> torch.Tensor:
        index = torch.as_tensor(index, dtype=torch.int64).reshape(1)
        return self.runner.step(x, masked_latents, mask_latent, index)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.runner.decode(latents)

    def start_latent(self, noise: torch.Tensor, clean_latents: Optional[torch.Tensor] = None) -> torch.Tensor:
        return start_latent(self.schedule, noise, clean_latents)

    def run(self, image: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor, progress: bool = False) -> torch.Tensor:
        """image [1,3,S,S] in [−1,1], mask [1,1,S,S] in {0,1}, noise [1,4,S/8,S/8] → image [1,3,S,S] in [0,1]."""
        return run_loop(self.encode, self.step, self.decode, self.schedule, image, mask, noise, progress=progress)


class InpaintBundle:
    """A loaded bundle: `.manifest`, and `.inpaint(image, mask, seed=0)` with the reference pipeline's behaviour."""

    def __init__(self, bundle: Bundle, runner):
        self.bundle = bundle
        self.graphs = BundleGraphs(runner, bundle)

    @property
    def manifest(self) -> dict:
        """manifest.json's document (the typed one is `.bundle.manifest`)."""
        return self.bundle.manifest.to_dict()

    @property
    def path(self) -> Path:
        return self.bundle.path

    @property
    def image_size(self) -> int:
        return self.bundle.image_size

    @property
    def timesteps(self) -> list[int]:
        return self.bundle.timesteps

    @property
    def notice(self) -> Optional[str]:
        manifest = self.bundle.manifest
        if manifest.source.get("random_weights"):
            from edge_sdk.presets import RANDOM_WEIGHTS_NOTICE

            return RANDOM_WEIGHTS_NOTICE.format(name=manifest.model)
        return None

    def inpaint(self, image, mask, seed: int = 0, progress: bool = False):
        """Fill the white area of `mask` in `image` (paths, PIL images or arrays); returns a PIL image in the
        input's mode. `progress` shows a bar over the denoising steps."""
        from edge_sdk.inpainting import inpaint_any_size
        from edge_sdk.notices import warn_once
        from edge_sdk.sampling_settings import check_seed

        seed = check_seed(seed)
        if self.notice:
            warn_once(self.notice)
        generate = functools.partial(self.graphs.run, progress=progress)
        return inpaint_any_size(generate, image, mask, model_size=self.image_size, seed=seed)

    def __repr__(self) -> str:
        return f"InpaintBundle({str(self.path)!r}, backend={self.bundle.backend!r}, precision={self.bundle.precision!r})"


def load(bundle_dir, *, load_in_turn: bool = False) -> InpaintBundle:
    """Open a bundle directory: every file's hash is checked, then the backend's runtime loads the graphs.

    `load_in_turn=True` keeps one graph in memory at a time (each loaded when its phase starts, the one before
    freed): a lower peak, and every inpaint loads the three graphs again (edge_sdk/backends/loaded_graphs.py).

    Raises BundleError for a missing, changed or unknown bundle and BackendUnavailableError when this
    machine has no runtime for its backend (a Core ML bundle on Linux, say).
    """
    bundle = read_bundle(bundle_dir)
    return InpaintBundle(bundle, open_runner(bundle, load_in_turn=load_in_turn))


def open_runner(bundle: Bundle, load_in_turn: bool = False):
    """The backend's runner over the bundle's files; a file its runtime cannot parse is a damaged bundle."""
    from edge_sdk.backends import get_backend
    from edge_sdk.errors import BundleError
    from edge_sdk.errors import EdgeSDKError
    from edge_sdk.native_output import quietly

    backend = get_backend(bundle.backend)
    try:
        return quietly(backend.open, bundle, load_in_turn=load_in_turn)  # ExecuTorch's first load probes the CPU and prints what it finds
    except EdgeSDKError:
        raise
    except Exception as exc:  # the runtime's own parse error: protobuf, flatbuffer, …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise BundleError(
            f"bundle {bundle.path}: the {bundle.backend} runtime cannot open its graphs ({first[:200]}): the bundle is damaged"
        ) from None
