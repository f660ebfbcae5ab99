"""The int8 check of the backend tests: a bundle's step graph, run in its runtime, drifts from the fp32
trajectories no more than the calibration report predicted (within 1 dB).

The prediction is `calibrate`'s own (fake-quantized PyTorch graph over its evaluation images). The
measurement replays the same cached calibration set with the bundle's step graph and the same fp32 decoder
(`calibration.drift.measure_drift`), so the two numbers differ only by what the backend does differently.
"""
from __future__ import annotations

import torch

from backend_bundles import CALIBRATION


def calibration_set(bundles):
    from edge_sdk.calibration import dataset

    graphs = bundles.graphs
    settings = dataset.RecordSettings(
        steps=graphs.schedule.steps, strength=graphs.schedule.strength, guidance_scale=graphs.guidance_scale,
        steps_per_image=CALIBRATION["steps_per_image"], seed=CALIBRATION["seed"],
    )
    images = dataset.load_images(None, None, CALIBRATION["num_images"], graphs.config.image_size, CALIBRATION["seed"])
    model_hash = dataset.model_digest(bundles.pipe.denoiser, bundles.pipe.vae)
    found, _ = dataset.load_or_record(graphs, images, settings, model_hash, bundles.calibration_cache, progress=False)
    return found


def predicted_and_measured_drift(bundles, loaded) -> tuple[float, float]:
    from edge_sdk.calibration.drift import measure_drift

    graphs = bundles.graphs
    entries = list(range(CALIBRATION["eval_images"]))
    with torch.no_grad():
        result = measure_drift(loaded.graphs.step, calibration_set(bundles), graphs.decode, graphs.schedule, entries)
    return bundles.prediction["predicted_psnr_db"], result.psnr_db
