"""`calibrate`: from a model to a recipe and a drift report.

    result = calibrate(denoiser, vae, CalibrationOptions(num_images=8, steps_per_image=10), recipe_path="recipe.json",
                       report_dir="report/")

1. Deploy graphs for the deployment's schedule; the fp32 trajectories of the calibration images (cached).
2. The step graph exported and prepared by PT2E with every candidate layer in int8; its observers watch the
   recorded samples (during the recording itself when it is not cached) and become switchable fake-quantizers.
3. Sensitivity: local error of every layer, ε error of the worst ones, a ranking.
4. The mixed-precision choice that meets the target final-image PSNR with the most layers in int8.
5. The recipe (precisions, activation grids, data hash, settings) and the drift report of the choice.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from edge_sdk.calibration import dataset, drift, pt2e, sensitivity
from edge_sdk.calibration.errors import CalibrationError
from edge_sdk.calibration.fake_quant import SwitchableQuantGraph
from edge_sdk.calibration.policy import PRECISIONS, QuantPolicy, plan_layers
from edge_sdk.calibration.recipe import LayerRecipe, Recipe, save_recipe
from edge_sdk.calibration.report import write_report

DEFAULT_TARGET_PSNR_DB = 35.0


@dataclasses.dataclass(frozen=True)
class CalibrationOptions:
    num_images: int = 8
    steps_per_image: int = 10
    steps: int = 20  # the deployment's DDIM steps: the recipe is for this schedule
    strength: float = 1.0
    guidance_scale: float = 2.5
    seed: int = 0
    images_dir: Optional[Path] = None  # None: the bundled sample photos
    masks_dir: Optional[Path] = None  # None: seeded generated masks
    observer: str = "mse"
    target_psnr_db: float = DEFAULT_TARGET_PSNR_DB
    eval_images: int = 2  # images whose final image the search and the report compare (the first ones)
    sensitivity_samples: int = 4  # samples for the sensitivity stages, spread over images and steps
    epsilon_layers: int = 16  # layers whose ε error is measured (those with the largest local error)
    max_evaluations: int = 12  # final-image evaluations the search may spend
    cache_dir: Optional[Path] = dataclasses.field(default_factory=dataset.default_cache_dir)  # None: no cache
    progress: bool = True

    def check(self) -> None:
        positive = {
            "number of images": self.num_images,
            "steps per image": self.steps_per_image,
            "steps": self.steps,
            "evaluation images": self.eval_images,
            "sensitivity samples": self.sensitivity_samples,
            "evaluations": self.max_evaluations,
        }
        for what, value in positive.items():
            if value < 1:
                raise CalibrationError(f"the {what} must be at least 1, got {value}")
        if self.epsilon_layers < 0:
            raise CalibrationError(f"the number of ε-measured layers cannot be negative, got {self.epsilon_layers}")
        if self.eval_images > self.num_images:
            raise CalibrationError(f"{self.eval_images} evaluation images asked for, but only {self.num_images} are calibrated")
        if not 0 < self.strength <= 1:
            raise CalibrationError(f"strength must be in (0, 1], got {self.strength}")
        if int(self.steps * self.strength) < 1:
            raise CalibrationError(f"strength {self.strength} keeps no step out of {self.steps}")
        if not np.isfinite(self.target_psnr_db) or self.target_psnr_db <= 0:
            raise CalibrationError(f"the target PSNR must be a positive number of dB, got {self.target_psnr_db}")
        try:
            QuantPolicy(observer=self.observer)
        except ValueError as exc:
            raise CalibrationError(str(exc)) from None


@dataclasses.dataclass
class CalibrationResult:
    recipe: Recipe
    report: dict
    drift: drift.DriftResult
    recipe_path: Optional[Path]
    report_dir: Optional[Path]


def calibrate(
    denoiser,
    vae,
    options: CalibrationOptions = CalibrationOptions(),
    *,
    recipe_path: Union[str, Path, None] = None,
    report_dir: Union[str, Path, None] = None,
    log: Callable[[str], None] = lambda message: None,
    recorder: Optional[Callable] = None,
) -> CalibrationResult:
    """Calibrate `denoiser` (with `vae`) and write the recipe and report when paths are given.

    `recorder(graphs, images, settings, model_hash, cache_dir, graph) -> (set, was_cached)` replaces the
    in-process recording, e.g. `edge_sdk.calibration.ray_recording.DistributedRecorder` (on Ray): it returns the
    calibration set and, when it recorded, leaves `graph`'s observers calibrated."""
    options.check()
    if recipe_path is not None and not Path(recipe_path).parent.is_dir():
        raise CalibrationError(f"output folder does not exist: {Path(recipe_path).parent}")
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    policy = QuantPolicy(observer=options.observer)

    recorded = _record(denoiser, vae, options, policy, clock, log, recorder)
    samples = recorded.calibration_set.samples()
    if recorded.cached:
        with clock("observe cached samples"):
            recorded.switchable.calibrate(tqdm(samples, desc="observing", disable=not options.progress, leave=False))
    with clock("freeze quantizers"):
        recorded.switchable.freeze()

    chosen_samples = _spread(samples, options.sensitivity_samples)
    ranking, measured = _rank_layers(recorded, chosen_samples, options, clock)
    eval_entries = list(range(options.eval_images))
    choice, final = _search(recorded, ranking, eval_entries, options, clock, log)
    recipe, layers = _make_recipe(recorded, choice, policy, options, len(chosen_samples), len(measured))
    report = _report_document(
        recorded, recipe, layers, choice, final, ranking,
        epsilon_layers=len(measured), sensitivity_samples=len(chosen_samples), samples=len(samples),
        timings=timings, options=options,
    )
    written_recipe = save_recipe(recipe, recipe_path) if recipe_path is not None else None
    written_report = None
    if report_dir is not None:
        calibration_set, decode = recorded.calibration_set, recorded.graphs.decode
        references = [calibration_set.reference_image(entry, decode) for entry in eval_entries]
        names = [calibration_set.names[entry] for entry in eval_entries]
        written_report = write_report(report_dir, report, names, references, final.images)
    return CalibrationResult(recipe, report, final, written_recipe, written_report)


@dataclasses.dataclass
class _Recorded:
    """What stages 1 and 2 leave: the graphs, the calibration images and set, and the observing step graph."""

    graphs: object
    images: list
    settings: dataset.RecordSettings
    model_hash: str
    plan: object
    switchable: SwitchableQuantGraph
    calibration_set: object
    cached: bool


def _record(denoiser, vae, options: CalibrationOptions, policy: QuantPolicy, clock, log, recorder) -> _Recorded:
    """Stages 1 and 2: deploy graphs, images, the PT2E-prepared step graph and the recorded trajectories."""
    from edge_sdk.deploy import DeployGraphs

    with clock("build deploy graphs"):
        graphs = DeployGraphs.build(
            denoiser, vae, steps=options.steps, strength=options.strength, guidance_scale=options.guidance_scale
        )
    steps_run = len(graphs.timesteps)
    if options.steps_per_image > steps_run:
        raise CalibrationError(f"{options.steps_per_image} steps per image asked for, but the schedule has only {steps_run} steps")
    with clock("load images"):
        images = dataset.load_images(
            options.images_dir, options.masks_dir, options.num_images, graphs.config.image_size, options.seed
        )
        model_hash = dataset.model_digest(denoiser, vae)
    settings = dataset.RecordSettings(
        steps=options.steps,
        strength=options.strength,
        guidance_scale=options.guidance_scale,
        steps_per_image=options.steps_per_image,
        seed=options.seed,
    )
    plan = plan_layers(graphs.step, policy)
    latent = graphs.config.sample_size
    example = (torch.zeros(1, 4, latent, latent), torch.zeros(1, 4, latent, latent), torch.zeros(1, 1, latent, latent), torch.tensor([0]))
    with clock("export and prepare (PT2E)"):
        switchable = SwitchableQuantGraph(pt2e.export_step(graphs.step, example), plan.candidates, options.observer)

    log(f"calibration set: {options.num_images} images x {options.steps_per_image} of {steps_run} steps")
    with clock("record trajectories (and observe)"):
        if recorder is None:
            calibration_set, cached = dataset.load_or_record(
                graphs, images, settings, model_hash, options.cache_dir, sample_step=switchable.observe, progress=options.progress
            )
        else:
            calibration_set, cached = recorder(graphs, images, settings, model_hash, options.cache_dir, switchable)
    return _Recorded(graphs, images, settings, model_hash, plan, switchable, calibration_set, cached)


def _rank_layers(recorded: _Recorded, chosen_samples: list, options: CalibrationOptions, clock):
    """Stage 3: (the layers ranked by sensitivity, the layers whose ε error was measured)."""
    switchable = recorded.switchable
    with clock("sensitivity: local errors"):
        local = sensitivity.local_errors(switchable, chosen_samples)
    measured = sensitivity.pick_epsilon_layers(local, options.epsilon_layers)
    with clock("sensitivity: epsilon errors"):
        with tqdm(total=len(measured), desc="ε sensitivity", unit="layer", disable=not options.progress, leave=False) as bar:
            epsilon = sensitivity.epsilon_errors(switchable, measured, chosen_samples, recorded.graphs.schedule, progress=bar.update)
    return sensitivity.rank_layers(local, epsilon), measured


def _search(recorded: _Recorded, ranking, eval_entries: list[int], options: CalibrationOptions, clock, log):
    """Stage 4: (the mixed-precision choice, its drift); the step graph is left set to the choice."""
    switchable, graphs = recorded.switchable, recorded.graphs
    results: dict[tuple, drift.DriftResult] = {}

    def evaluate(precisions: dict[str, str]) -> float:
        switchable.set_precisions(precisions)
        result = drift.measure_drift(switchable, recorded.calibration_set, graphs.decode, graphs.schedule, eval_entries)
        results[_key(precisions)] = result
        log(f"  {_summary(precisions)}: {result.psnr_db:.2f} dB")
        return result.psnr_db

    log(f"search: target {options.target_psnr_db:g} dB over {len(eval_entries)} image(s)")
    with clock("mixed-precision search"):
        choice = sensitivity.choose_precisions(
            [row.name for row in ranking], evaluate, options.target_psnr_db, options.max_evaluations
        )
    switchable.set_precisions(choice.precisions)
    return choice, results[_key(choice.precisions)]


def _make_recipe(recorded: _Recorded, choice, policy: QuantPolicy, options: CalibrationOptions, sensitivity_samples: int, epsilon_layers: int):
    """Stage 5, the recipe: (the Recipe, its layers by name)."""
    from edge_sdk import __version__

    plan = recorded.plan
    qparams = recorded.switchable.activation_qparams()
    layers = {}
    for name in plan.candidates:
        precision = choice.precisions[name]
        layers[name] = LayerRecipe.int8(options.observer, qparams[name]) if precision == "int8" else LayerRecipe(precision)
    for exclusion in plan.excluded_layers:
        layers[exclusion.name] = LayerRecipe("fp32")
    recipe_settings = {
        "record": recorded.settings.to_dict(),
        "images": [item.name for item in recorded.images],
        "masks": "generated (calibration.masks)" if options.masks_dir is None else "user",
        "policy": policy.to_dict(),
        "weights": "int8 symmetric, per output channel",
        "activations": "int8 affine, per tensor",
        "target_psnr_db": options.target_psnr_db,
        "eval_images": options.eval_images,
        "sensitivity_samples": sensitivity_samples,
        "epsilon_layers": epsilon_layers,
    }
    recipe = Recipe(
        layers=layers,
        excluded=tuple(plan.excluded),
        data_hash=recorded.calibration_set.data_hash,
        settings=recipe_settings,
        model={"block_out_channels": list(recorded.graphs.config.block_out_channels), "weights_sha256": recorded.model_hash},
        sdk_version=__version__,
    )
    return recipe, layers


def _report_document(
    recorded: _Recorded, recipe: Recipe, layers: dict, choice, final, ranking, *,
    epsilon_layers: int, sensitivity_samples: int, samples: int, timings: dict, options: CalibrationOptions,
) -> dict:
    """Stage 5, the evidence: report.json's document."""
    from edge_sdk import __version__

    counts = {precision: recipe.count(precision) for precision in PRECISIONS}
    return final.to_dict() | {
        "target_psnr_db": options.target_psnr_db,
        "meets_target": choice.meets_target,
        "precision_counts": counts,
        "precisions": {name: layer.precision for name, layer in layers.items()},
        "excluded": [item.to_dict() for item in recorded.plan.excluded],
        "sensitivity": [row.to_dict() for row in ranking],
        "search": {
            "evaluations": [item.to_dict() for item in choice.evaluations],
            "budget_exhausted": choice.budget_exhausted,
            "epsilon_layers": epsilon_layers,
            "sensitivity_samples": sensitivity_samples,
        },
        "calibration_samples": samples,
        "calibration_set_cached": recorded.cached,
        "data_hash": recorded.calibration_set.data_hash,
        "settings": recipe.settings,
        "sdk_version": __version__,
        "timings_s": timings,
        "measured_with": "fake-quantized PyTorch graph (torchao FakeQuantize with the PT2E observers' scales)",
        "notes": _notes(choice, options),
    }


def _spread(samples: list, count: int) -> list:
    """`count` samples evenly spread over the list (it is ordered by image, then step)."""
    if count >= len(samples):
        return list(samples)
    return [samples[int(round(i))] for i in np.linspace(0, len(samples) - 1, count)]


def _key(precisions: dict[str, str]) -> tuple:
    return tuple(sorted(precisions.items()))


def _summary(precisions: dict[str, str]) -> str:
    counts = {p: sum(1 for v in precisions.values() if v == p) for p in ("int8", "w8", "fp16")}
    return f"{counts['int8']} int8, {counts['w8']} w8, {counts['fp16']} fp16"


def _notes(choice, options) -> list[str]:
    notes = []
    if not choice.meets_target:
        notes.append(
            f"no configuration evaluated reached {options.target_psnr_db:g} dB; the recipe is the best one seen"
        )
    return notes


class _Clock:
    def __init__(self, timings: dict):
        self.timings = timings

    def __call__(self, phase: str):
        clock = self

        class _Phase:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                clock.timings[phase] = clock.timings.get(phase, 0.0) + time.perf_counter() - self.start

        return _Phase()
