"""Distributed calibration recording: the trajectories and activation statistics of `calibrate`, spread
over Ray workers and merged so that the recipe matches the single-process one.

Each worker builds the same deploy graphs and PT2E-prepared step graph as the driver, records the
trajectories of its share of the images (global image indices, so every noise is the one the single
process draws) and measures its retained samples' activations in two passes:

1. ranges: every activation observer's min and max over all elements (what every observer's range is);
   the driver takes the min of the minima and the max of the maxima: exact.
2. histograms (histogram observers only, `mse` and `percentile`): every worker bins its samples on the
   shared grid [global min, global max] with the observer's bin count and element subsampling; the driver
   adds the counts: exact too, and independent of how the images were split.

The driver's observers are then set to those merged statistics. `minmax` gives the single-process
recipe bit for bit (tests/test_scaleout_cluster.py). The histogram observers get the exact histogram of
all samples, where the single process approximates it: torchao re-bins its running histogram each time a
sample widens the range, so its result depends on the order of the samples. On tiny (3 images × 4 steps,
`mse`) the two differ by at most 9.8% in a scale (zero points by a few steps) and 0.22 dB in the
final-image drift PSNR (45.69 single, 45.46 distributed): benchmarks/results/scaleout_nano.md.
"""
from __future__ import annotations

import types
from typing import Optional, Sequence

import torch

from edge_sdk.calibration import dataset
from edge_sdk.calibration.errors import CalibrationError
from edge_sdk.calibration.observers import HISTOGRAM_SAMPLES

_PER_TENSOR = (torch.per_tensor_affine, torch.per_tensor_symmetric)


def activation_observers(graph_module) -> dict[str, torch.nn.Module]:
    """The per-tensor (activation) observers of a prepared graph, by module name; weight observers are
    per channel and see the same constant weights everywhere."""
    from torchao.quantization.pt2e.observer import ObserverBase

    return {
        name: module
        for name, module in graph_module.named_children()
        if isinstance(module, ObserverBase) and getattr(module, "qscheme", None) in _PER_TENSOR
    }


def _is_histogram(module) -> bool:
    return hasattr(module, "histogram") and hasattr(module, "bins")


def _subsample(flat: torch.Tensor) -> torch.Tensor:
    """The elements SubsampledHistogramObserver bins (calibration.observers: an odd stride)."""
    if flat.numel() <= HISTOGRAM_SAMPLES:
        return flat
    return flat[:: (flat.numel() // HISTOGRAM_SAMPLES) | 1]


class _Watch:
    """Replace every activation observer's forward for the duration of a `with` block."""

    def __init__(self, observers: dict, make_forward):
        self.observers, self.make_forward = observers, make_forward

    def __enter__(self):
        for name, module in self.observers.items():
            module.forward = types.MethodType(self.make_forward(name), module)

    def __exit__(self, *exc):
        for module in self.observers.values():
            del module.forward


class RecordingWorker:
    """Runs in a Ray actor: the graphs of one model and schedule, and the samples of one share of images."""

    def __init__(self, model: tuple, settings: dataset.RecordSettings, observer: str, threads: int):
        from edge_sdk.calibration import pt2e
        from edge_sdk.calibration.fake_quant import SwitchableQuantGraph
        from edge_sdk.calibration.policy import QuantPolicy, plan_layers
        from edge_sdk.deploy import DeployGraphs

        torch.set_num_threads(threads)
        denoiser, vae = model
        self.settings = settings
        self.graphs = DeployGraphs.build(
            denoiser, vae, steps=settings.steps, strength=settings.strength, guidance_scale=settings.guidance_scale
        )
        plan = plan_layers(self.graphs.step, QuantPolicy(observer=observer))
        side = self.graphs.config.sample_size
        example = (torch.zeros(1, 4, side, side), torch.zeros(1, 4, side, side), torch.zeros(1, 1, side, side), torch.tensor([0]))
        self.graph = SwitchableQuantGraph(pt2e.export_step(self.graphs.step, example), plan.candidates, observer)
        self.observers = activation_observers(self.graph.graph_module)
        self.recorded: Optional[dataset.CalibrationSet] = None

    def record(self, images: Sequence, first_index: int, model_hash: str) -> tuple[dict, dict]:
        """Pass 1: the trajectories of `images` (tensors of the set) and each observer's (min, max)."""
        ranges: dict[str, list[float]] = {}

        def make_forward(name):
            def forward(module, x):
                low, high = torch.aminmax(x.detach())
                seen = ranges.setdefault(name, [float("inf"), float("-inf")])
                seen[0], seen[1] = min(seen[0], float(low)), max(seen[1], float(high))
                return x
            return forward

        with _Watch(self.observers, make_forward):
            self.recorded = dataset.record(
                self.graphs, images, self.settings, model_hash, sample_step=self.graph.observe, progress=False, first_index=first_index
            )
        part = self.recorded
        tensors = {
            "names": part.names, "masked_latents": part.masked_latents, "mask_latent": part.mask_latent,
            "masks": part.masks, "trajectories": part.trajectories, "retained": part.retained, "timesteps": part.timesteps,
        }
        return tensors, ranges

    def histograms(self, grid: dict[str, tuple[float, float]]) -> dict[str, torch.Tensor]:
        """Pass 2: each histogram observer's counts of this worker's samples on the shared grid."""
        counts: dict[str, torch.Tensor] = {}
        watched = {name: module for name, module in self.observers.items() if _is_histogram(module)}

        def make_forward(name):
            low, high = grid[name]

            def forward(module, x):
                sample = _subsample(x.detach().reshape(-1)).float()
                update = torch.histc(sample, module.bins, min=low, max=high)
                counts[name] = counts[name] + update if name in counts else update
                return x
            return forward

        if watched:
            with _Watch(watched, make_forward), torch.no_grad():
                for sample in self.recorded.samples():
                    self.graph.graph_module(*sample)
        return counts


def merge_statistics(graph, ranges: Sequence[dict], histograms: Sequence[dict]) -> None:
    """Set the driver's activation observers to the merged statistics (after one forward has filled the
    weight observers)."""
    observers = activation_observers(graph.graph_module)
    unknown = set().union(*ranges) - set(observers) if ranges else set()
    if unknown:
        raise CalibrationError(f"the workers' step graph has observers the driver's lacks (e.g. {sorted(unknown)[0]}): mixed SDK versions?")
    for name, module in observers.items():
        lows = [part[name][0] for part in ranges if name in part]
        highs = [part[name][1] for part in ranges if name in part]
        if not lows:
            continue  # an observer no sample reached: as in the single process, torchao's defaults apply
        low, high = min(lows), max(highs)
        module.min_val.copy_(torch.tensor(low, dtype=module.min_val.dtype))
        module.max_val.copy_(torch.tensor(high, dtype=module.max_val.dtype))
        if _is_histogram(module):
            parts = [part[name] for part in histograms if name in part]
            module.histogram.resize_(module.bins).copy_(torch.stack(parts).sum(dim=0))


def shared_grid(ranges: Sequence[dict]) -> dict[str, tuple[float, float]]:
    names = set().union(*ranges) if ranges else set()
    return {
        name: (min(part[name][0] for part in ranges if name in part), max(part[name][1] for part in ranges if name in part))
        for name in names
    }


class DistributedRecorder:
    """The `recorder` hook of `calibrate`: records on Ray workers, merges into the driver's graph.

    `workers` actors of `threads` torch threads (and CPUs) each; the images are split into contiguous
    shares in order, so the merged set lists them as the single process does."""

    def __init__(self, denoiser, vae, *, ray_address: Optional[str] = None, workers: Optional[int] = None, threads: int = 1):
        if threads < 1:
            raise CalibrationError(f"threads per worker must be at least 1, got {threads}")
        if workers is not None and workers < 1:
            raise CalibrationError(f"workers must be at least 1, got {workers}")
        self.denoiser, self.vae = denoiser, vae
        self.ray_address, self.workers, self.threads = ray_address, workers, threads
        self.used_workers = 0

    def __call__(self, graphs, images, settings, model_hash, cache_dir, graph) -> tuple[dataset.CalibrationSet, bool]:
        from pathlib import Path

        from edge_sdk.atomic_files import publish_folder
        from edge_sdk.ray_runtime import cluster_cpus, ray_session

        key = dataset.data_hash(model_hash, graphs.config, images, settings, graphs.timesteps)
        cached = dataset.cached_set(cache_dir, key)
        if cached is not None:
            return cached, True  # calibrate observes it in the driver, as without Ray
        with ray_session(self.ray_address) as ray:
            count = min(len(images), self.workers or max(1, cluster_cpus(ray) // self.threads))
            self.used_workers = count
            remote = ray.remote(num_cpus=self.threads, max_restarts=0)(RecordingWorker)
            model = ray.put((self.denoiser, self.vae))  # one copy in the object store for every actor
            actors = [remote.remote(model, settings, graph.observer, self.threads) for _ in range(count)]
            bounds = [round(k * len(images) / count) for k in range(count + 1)]
            try:
                recorded = ray.get([
                    actor.record.remote(list(images[bounds[k]:bounds[k + 1]]), bounds[k], model_hash) for k, actor in enumerate(actors)
                ])
                ranges = [part[1] for part in recorded]
                grid = shared_grid(ranges)
                histograms = ray.get([actor.histograms.remote(grid) for actor in actors])
            except ray.exceptions.RayError as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                raise CalibrationError(f"a recording worker failed: {first_line}") from None
            finally:
                for actor in actors:
                    ray.kill(actor)
        calibration_set = _merge_sets([part[0] for part in recorded], key, settings)
        # One forward fills the weight observers and counts as calibrated; the activation statistics
        # are then replaced by the merged ones.
        graph.observe(*calibration_set.sample(0, calibration_set.retained[0]))
        merge_statistics(graph, ranges, histograms)
        if cache_dir is not None:
            calibration_set.folder = publish_folder(calibration_set.save, Path(cache_dir) / key)
        return calibration_set, False


def _merge_sets(parts: Sequence[dict], key: str, settings) -> dataset.CalibrationSet:
    return dataset.CalibrationSet(
        data_hash=key,
        settings=settings,
        timesteps=tuple(parts[0]["timesteps"]),
        names=[name for part in parts for name in part["names"]],
        masked_latents=torch.cat([part["masked_latents"] for part in parts]),
        mask_latent=torch.cat([part["mask_latent"] for part in parts]),
        masks=torch.cat([part["masks"] for part in parts]),
        trajectories=torch.cat([part["trajectories"] for part in parts]),
        retained=tuple(parts[0]["retained"]),
    )
