"""Tiny bundles for the backend and bundle tests, exported in-process once per code version.

Every export of a session shares one DeployGraphs and one ProgramCache (each graph is `torch.export`ed
once). Bundles land in build/test-bundles/unit-<backend>-<precision>-<digest>, the digest covering the
exporting code and this file, so an unchanged tree reuses them and any change exports again.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "build" / "test-bundles"
STEPS = 2  # enough for a loop; the graphs are the same at any step count
SOURCES = ("edge_sdk", "backends", "calibration")
# A small run of the calibration package's `calibrate` (its search included) on the tiny model.
CALIBRATION = dict(num_images=2, steps_per_image=STEPS, eval_images=2, sensitivity_samples=2, epsilon_layers=4, max_evaluations=3, seed=0)


def source_digest() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for root in SOURCES:
        for path in sorted((REPO / root).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class TinyBundles:
    """Exports (or finds) tiny bundles; `pipe` is the reference pipeline they are compared with."""

    def __init__(self):
        import torch

        from edge_sdk import InpaintPipeline
        from edge_sdk.backends.base import ProgramCache
        from edge_sdk.deploy import DeployGraphs

        torch.manual_seed(0)
        self.pipe = InpaintPipeline.from_preset("tiny")
        self.graphs = DeployGraphs.build(self.pipe.denoiser, self.pipe.vae, steps=STEPS)
        self.programs = ProgramCache(self.graphs)
        self.digest = source_digest()
        self.calibration_cache = CACHE / "calibration"
        self._recipe = self._prediction = None
        CACHE.mkdir(parents=True, exist_ok=True)

    def _calibrate(self):
        from edge_sdk.bundle.calibrate import calibrate_for_bundle
        from edge_sdk.calibration.recipe import Recipe, save_recipe

        recipe_path = CACHE / f"unit-recipe-{self.digest}.json"
        prediction_path = CACHE / f"unit-prediction-{self.digest}.json"
        if recipe_path.is_file() and prediction_path.is_file():
            self._recipe = Recipe.from_dict(json.loads(recipe_path.read_text()), source=str(recipe_path))
            self._prediction = json.loads(prediction_path.read_text())
            return
        self._recipe, self._prediction = calibrate_for_bundle(
            self.pipe.denoiser, self.pipe.vae, self.graphs, cache_dir=self.calibration_cache, **CALIBRATION
        )
        save_recipe(self._recipe, recipe_path)
        prediction_path.write_text(json.dumps(self._prediction))

    @property
    def recipe(self):
        """The int8 recipe `calibrate` chose for the tiny model (cached as JSON per code version)."""
        if self._recipe is None:
            self._calibrate()
        return self._recipe

    @property
    def prediction(self) -> dict:
        """What the calibration report predicted for that recipe (predicted_psnr_db, ...)."""
        if self._prediction is None:
            self._calibrate()
        return self._prediction

    def bundle(self, backend: str, precision: str, vae_precision: str | None = None) -> Path:
        """The bundle of that backend and precision; `vae_precision` None: the backend's default VAE."""
        from edge_sdk.bundle.export import export_bundle

        vae = f"-vae-{vae_precision.replace('/', '-')}" if vae_precision else ""
        folder = CACHE / f"unit-{backend}-{precision}{vae}-{self.digest}"
        if (folder / "manifest.json").is_file():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        int8 = precision == "int8"
        export_bundle(
            self.graphs, backend, precision, folder, vae_precision=vae_precision, recipe=self.recipe if int8 else None,
            predicted_quality=self.prediction if int8 else None, programs=self.programs,
            model={"name": "tiny", "random_weights": True},
        )
        return folder


_SESSION: dict = {}


def tiny_bundles() -> TinyBundles:
    if "bundles" not in _SESSION:
        _SESSION["bundles"] = TinyBundles()
    return _SESSION["bundles"]


def psnr(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
