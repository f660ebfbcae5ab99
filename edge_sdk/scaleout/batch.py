"""`edge_sdk.batch`: inpaint (and optionally evaluate) a dataset on Ray Data with a pool of actors.

Each actor opens the model or bundle once and runs its rows with a fixed number of torch threads, so the
actors on a node do not oversubscribe its cores. Every row becomes one result in `results.parquet`; a row
that fails (unreadable image, mask of another size, a crash of its worker past the retries) gets status
"error" and its message, and the job goes on. Images are written to a temporary name and renamed, so a
killed worker leaves no half file, and a retried row writes the same bytes again (inference is seeded).

    summary = edge_sdk.batch("photos/", "out/", model="nano", actors=2)
"""
from __future__ import annotations

import dataclasses
import math
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Optional

from edge_sdk.errors import EdgeSDKError
from edge_sdk.scaleout.batch_inputs import BatchRow, bundle_overrides, read_rows
from edge_sdk.scaleout.batch_results import STATUS_ERROR, STATUS_OK, ResultJournal

# Retries of a row whose actor died (a killed worker, a lost node) before the row is reported failed.
ACTOR_TASK_RETRIES = 2


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What every actor opens: a preset, official files, or a bundle folder (exactly one kind)."""

    model: Optional[str] = None
    checkpoint: Optional[str] = None
    vae: Optional[str] = None
    bundle: Optional[str] = None

    def check(self) -> None:
        """Fail fast in the driver on what would fail in every actor."""
        from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS

        if self.bundle is not None:
            if self.checkpoint or self.vae or self.model:
                raise EdgeSDKError("--bundle runs the bundle's own model: leave out --model, --checkpoint and --vae")
            from edge_sdk.backends import get_backend
            from edge_sdk.errors import BackendUnavailableError
            from edge_sdk.bundle.manifest import read_bundle

            bundle = read_bundle(Path(self.bundle))
            ok, why = get_backend(bundle.backend).runtime_available()
            if not ok:
                raise BackendUnavailableError(f"cannot run {bundle.path.name} ({bundle.backend}) here: {why}")
        elif self.checkpoint is not None or self.vae is not None:
            if self.checkpoint is None or self.vae is None:
                raise EdgeSDKError("--checkpoint and --vae go together: the denoiser needs the VAE it was trained with")
            for path in (self.checkpoint, self.vae):
                if not Path(path).exists():
                    raise EdgeSDKError(f"not found: {path}")
        elif (self.model or DEFAULT_MODEL) not in MODEL_PRESETS:
            raise EdgeSDKError(f"unknown model {self.model!r}: use one of {', '.join(MODEL_PRESETS)}")

    def default_strength(self) -> float:
        from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS

        preset = MODEL_PRESETS.get(self.model or DEFAULT_MODEL)
        return preset.strength if preset is not None and self.checkpoint is None else 1.0


@dataclasses.dataclass(frozen=True)
class Sampling:
    steps: int = 20
    guidance_scale: float = 2.5
    strength: Optional[float] = None  # None: the model's


class Inpainter:
    """One opened model or bundle: `run(row) -> (image, reference image or None)`, in the actor's process."""

    def __init__(self, spec: ModelSpec, sampling: Sampling, evaluate: bool):
        self.sampling = sampling
        self.reference = None
        if spec.bundle is not None:
            from edge_sdk.bundle.inpaint_bundle import load

            self.bundle = load(spec.bundle)
            self.pipe = None
            if evaluate:
                self.reference = _reference_pipeline(self.bundle.bundle.manifest)
        else:
            from edge_sdk.pipeline import InpaintPipeline
            from edge_sdk.presets import DEFAULT_MODEL, OFFICIAL_CONFIG

            if spec.checkpoint is not None:
                self.pipe = InpaintPipeline.from_files(spec.checkpoint, spec.vae, spec.model or OFFICIAL_CONFIG)
            else:
                self.pipe = InpaintPipeline.from_preset(spec.model or DEFAULT_MODEL)

    def run(self, row: BatchRow, image, hole):
        if self.pipe is None:
            result = self.bundle.inpaint(image, hole, seed=row.seed)
            reference = None
            if self.reference is not None:
                pipe, kwargs = self.reference
                reference = pipe(image, hole, seed=row.seed, progress=False, **kwargs)
            return result, reference
        steps = row.steps or self.sampling.steps
        strength = self.sampling.strength if math.isnan(row.strength) else row.strength
        result = self.pipe(
            image, hole, steps=steps, guidance_scale=self.sampling.guidance_scale, strength=strength, seed=row.seed, progress=False
        )
        return result, None  # the model is its own reference


def _reference_pipeline(manifest):
    """The PyTorch eager fp32 pipeline of a bundle's model, with the bundle's schedule and guidance."""
    from edge_sdk.bench.reference import reference_models
    from edge_sdk.pipeline import InpaintPipeline

    denoiser, vae = reference_models(manifest)
    kwargs = {"steps": manifest.baked_steps, "strength": float(manifest.strength), "guidance_scale": float(manifest.guidance_scale)}
    return InpaintPipeline(denoiser.float(), vae.float()), kwargs


class InpaintActor:
    """The Ray Data callable class: built once per actor, called with batches of rows (numpy columns)."""

    def __init__(self, spec: ModelSpec, sampling: Sampling, out_dir: str, threads: int, evaluate: bool):
        import torch

        torch.set_num_threads(threads)
        self.out_dir = Path(out_dir)
        self.evaluate = evaluate
        self.inpainter = Inpainter(spec, sampling, evaluate)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        rows = [_row_from_columns(batch, index) for index in range(len(batch["row_id"]))]
        results = [self.process(row) for row in rows]
        return {name: [result[name] for result in results] for name in results[0]}

    def process(self, row: BatchRow) -> dict:
        from edge_sdk.imaging import load_image, load_mask, save_image_atomic

        start = time.perf_counter()
        result = _result(row, STATUS_OK, None, self.worker)
        try:
            image = load_image(row.image)
            hole = load_mask(row.mask, image.size)
            output, reference = self.inpainter.run(row, image, hole)
            target = self.out_dir / row.output
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image_atomic(output, target)
            result["hole_share"] = float(hole.mean())
            if self.evaluate and hole.any():
                result.update(_hole_metrics(output, image, hole, "original"))
                if reference is not None:
                    result.update(_hole_metrics(output, reference, hole, "reference"))
        except EdgeSDKError as exc:
            result.update(status=STATUS_ERROR, error=str(exc))
        except Exception as exc:  # a bad row (or a runtime failure on it) must not stop the other rows
            result.update(status=STATUS_ERROR, error=_one_line(exc))
        result["seconds"] = time.perf_counter() - start
        result["finished_at"] = time.time()
        return result


def _row_from_columns(batch: dict, index: int) -> BatchRow:
    return BatchRow(
        row_id=int(batch["row_id"][index]),
        image=str(batch["image"][index]),
        mask=str(batch["mask"][index]),
        output=str(batch["output"][index]),
        seed=int(batch["seed"][index]),
        steps=int(batch["steps"][index]),
        strength=float(batch["strength"][index]),
    )


def _result(row: BatchRow, status: str, error: Optional[str], worker: Optional[str]) -> dict:
    return {
        "row_id": row.row_id, "image": row.image, "mask": row.mask, "output": row.output, "seed": row.seed,
        "status": status, "error": error, "seconds": None, "hole_share": None,
        "psnr_hole_vs_original": None, "ssim_hole_vs_original": None,
        "psnr_hole_vs_reference": None, "ssim_hole_vs_reference": None, "worker": worker,
        "finished_at": None,
    }


def _hole_metrics(output, expected, hole, against: str) -> dict:
    import numpy as np
    import torch

    from edge_sdk.image_metrics import psnr, ssim_pair

    def tensor(picture):
        return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]

    actual, reference = tensor(output), tensor(expected)
    mask = torch.from_numpy(hole)[None, None]
    values = {f"psnr_hole_vs_{against}": psnr(actual, reference, mask)}
    try:
        values[f"ssim_hole_vs_{against}"] = ssim_pair(actual, reference, mask)[1]
    except ValueError:  # the hole lies within the SSIM window's margin of the border, or the image is tiny
        values[f"ssim_hole_vs_{against}"] = None
    return values


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


@dataclasses.dataclass(frozen=True)
class BatchSummary:
    rows: int
    skipped: int  # done by an earlier run
    ok: int
    failed: int
    seconds: float
    actors: int
    results: Path

    def line(self) -> str:
        return (
            f"{self.ok} of {self.rows} row(s) inpainted, {self.failed} failed, {self.skipped} already done "
            f"({self.seconds:.1f} s, {self.actors} actor(s)); results in {self.results}"
        )


def batch(
    source,
    out_dir,
    *,
    model: Optional[str] = None,
    checkpoint=None,
    vae=None,
    bundle=None,
    steps: int = 20,
    guidance_scale: float = 2.5,
    strength: Optional[float] = None,
    seed: int = 0,
    evaluate: bool = False,
    actors: Optional[int] = None,
    threads: int = 1,
    ray_address: Optional[str] = None,
    progress: bool = True,
) -> BatchSummary:
    """Inpaint every row of `source` (a folder of NAME + NAME_mask pairs, or a CSV/Parquet manifest) into
    `out_dir`: images under it and `results.parquet`. Rows done by an earlier run into the same folder are
    skipped. Without `ray_address` a local Ray is started; with one ("auto", HOST:PORT) the job joins it."""
    from edge_sdk.ray_runtime import cluster_cpus, ray_session, require_ray

    require_ray()
    spec = ModelSpec(model, _text(checkpoint), _text(vae), _text(bundle))
    spec.check()
    if steps < 1:
        raise EdgeSDKError(f"steps must be at least 1, got {steps}")
    if threads < 1:
        raise EdgeSDKError(f"threads per actor must be at least 1, got {threads}")
    if actors is not None and actors < 1:
        raise EdgeSDKError(f"actors must be at least 1, got {actors}")
    rows = read_rows(Path(source), seed=seed)
    if spec.bundle is not None and (why := bundle_overrides(rows)):
        raise EdgeSDKError(why)
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise EdgeSDKError(f"output folder's parent does not exist: {out_dir.parent}")
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeSDKError(f"-o must be a folder, and {out_dir} is a file")
    sampling = Sampling(steps, guidance_scale, spec.default_strength() if strength is None else strength)

    journal = ResultJournal(out_dir)
    done = journal.done()
    todo = [row for row in rows if row.output not in done]
    start = time.perf_counter()
    pool = 0
    if todo:
        with ray_session(ray_address) as ray:
            out_dir.mkdir(exist_ok=True)  # once Ray is up: a job that cannot start leaves nothing behind
            pool = actors or max(1, min(len(todo), cluster_cpus(ray) // threads))
            _run(ray, todo, journal, spec, sampling, out_dir, threads, evaluate, min(pool, len(todo)), progress)
    out_dir.mkdir(exist_ok=True)
    path = journal.finish()
    latest = journal.previous()
    current = [latest[row.output] for row in rows if row.output in latest]
    ok = sum(1 for result in current if result["status"] == STATUS_OK)
    return BatchSummary(len(rows), len(rows) - len(todo), ok, len(current) - ok, time.perf_counter() - start, pool, path)


def _run(ray, todo, journal, spec, sampling, out_dir, threads, evaluate, pool, progress) -> None:
    from tqdm.auto import tqdm

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # one bar below, in rows
    context.print_on_execution_start = False
    # A row whose worker died past its retries drops its one-row block instead of failing the job.
    context.max_errored_blocks = len(todo)
    dataset = ray.data.from_items([row.to_dict() for row in todo], override_num_blocks=len(todo))
    with warnings.catch_warnings():
        # Ray 2.60 flags retry settings passed as remote args as deprecated, yet documents them for actor pools.
        warnings.simplefilter("ignore", DeprecationWarning)
        results = _map(ray, dataset, spec, sampling, out_dir, threads, evaluate, pool)
    received: set[str] = set()
    with tqdm(total=len(todo), desc="inpainting", unit="image", disable=not progress) as bar:
        for block in results.iter_batches(batch_size=None, batch_format="pandas"):
            fresh = [row for row in block.to_dict("records") if row["output"] not in received]
            received.update(row["output"] for row in fresh)  # a retried row is kept once
            journal.append([_clean(row) for row in fresh])
            bar.update(len(fresh))
    lost = [row for row in todo if row.output not in received]
    journal.append([
        _result(row, STATUS_ERROR, f"its worker died {ACTOR_TASK_RETRIES + 1} times while running it (killed, out of memory or node lost)", None)
        for row in lost
    ])


def _map(ray, dataset, spec, sampling, out_dir, threads, evaluate, pool):
    return dataset.map_batches(
        InpaintActor,
        fn_constructor_kwargs={"spec": spec, "sampling": sampling, "out_dir": str(out_dir), "threads": threads, "evaluate": evaluate},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=pool),
        num_cpus=threads,
        max_restarts=-1,
        max_task_retries=ACTOR_TASK_RETRIES,
    )


def _clean(row: dict) -> dict:
    """pandas' NaN/None mix back to None."""
    return {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}


def _text(value) -> Optional[str]:
    return None if value is None else str(value)
