"""A calibration recipe made at export time (`export --precision int8` without `--recipe`).

This is the calibration package's own `calibrate` (trajectories of the bundled photos, PT2E observers, layer
sensitivity, the mixed-precision search against a target PSNR) run for the bundle's schedule; the drift it
predicts goes into the manifest next to the recipe.
"""
from __future__ import annotations

from edge_sdk.backends.base import quiet

EXPORT_STEPS_PER_IMAGE = 10


def prediction_summary(report: dict) -> dict:
    """What the manifest keeps of a calibration report: the drift the recipe was chosen for."""
    return {
        "predicted_psnr_db": report.get("psnr_db"),
        "predicted_psnr_hole_db": report.get("psnr_hole_db"),
        "target_psnr_db": report.get("target_psnr_db"),
        "meets_target": report.get("meets_target"),
        "precision_counts": report.get("precision_counts"),
        "measured_with": report.get("measured_with"),
    }


def calibrate_for_bundle(denoiser, vae, graphs, *, progress=quiet, **options):
    """(recipe, prediction summary) for the schedule `graphs` bake in; `options` override CalibrationOptions."""
    from edge_sdk.calibration.calibrate import CalibrationOptions, calibrate

    schedule = graphs.schedule
    settings = dict(
        steps=schedule.steps,
        strength=schedule.strength,
        guidance_scale=graphs.guidance_scale,
        steps_per_image=min(EXPORT_STEPS_PER_IMAGE, len(schedule.timesteps)),
        progress=False,
    )
    settings.update(options)
    progress("calibration: recording trajectories, measuring layer sensitivity, choosing precisions")
    result = calibrate(denoiser, vae, CalibrationOptions(**settings), log=progress)
    return result.recipe, prediction_summary(result.report)
