"""A calibration recipe made at export time (`export --precision int8` without `--recipe`).

Built from the calibration package's own parts: the bundled sample photos with its seeded masks, the fp32
trajectories it records through the deploy graphs, its layer policy (what may be int8 and why not), and
its PT2E observers for the activation ranges. The result is an ordinary `Recipe`, written into the bundle.
"""
from __future__ import annotations

from edge_sdk.backends.base import quiet

DEFAULT_IMAGES = 4
DEFAULT_STEPS_PER_IMAGE = 4


def calibrate_recipe(graphs, *, num_images: int = DEFAULT_IMAGES, steps_per_image: int = DEFAULT_STEPS_PER_IMAGE, progress=quiet):
    from edge_sdk import __version__
    from edge_sdk.calibration import pt2e
    from edge_sdk.calibration.dataset import RecordSettings, load_images, model_digest, record
    from edge_sdk.calibration.policy import QuantPolicy, plan_layers
    from edge_sdk.calibration.recipe import LayerRecipe, Recipe

    schedule = graphs.schedule
    steps_per_image = min(steps_per_image, len(schedule.timesteps))
    settings = RecordSettings(
        steps=schedule.steps, strength=schedule.strength, guidance_scale=graphs.guidance_scale, steps_per_image=steps_per_image
    )
    progress(f"calibration: recording fp32 trajectories of {num_images} bundled photos")
    images = load_images(None, None, num_images, graphs.config.image_size)
    model_hash = model_digest(graphs.step, graphs.encode, graphs.decode)
    calibration = record(graphs, images, settings, model_hash, progress=False)
    samples = calibration.samples()

    policy = QuantPolicy()
    plan = plan_layers(graphs.step, policy)
    int8 = {name: "int8" for name in plan.candidates}
    progress(f"calibration: observing {len(int8)} int8 layers on {len(samples)} step inputs ({policy.observer} observer)")
    prepared = pt2e.prepare(pt2e.export_step(graphs.step, samples[0]), int8, {name: policy.observer for name in int8})
    pt2e.calibrate(prepared, samples)
    ranges = pt2e.activation_ranges(prepared, int8)
    layers = {}
    for name in plan.candidates:
        layers[name] = LayerRecipe("int8", policy.observer, {"input": ranges[name]["input"], "output": ranges[name]["output"]})
    for exclusion in plan.excluded_layers:
        layers[exclusion.name] = LayerRecipe("fp32")
    return Recipe(
        layers=layers,
        excluded=tuple(plan.excluded),
        data_hash=calibration.data_hash,
        settings={"record": settings.to_dict(), "policy": policy.to_dict(), "images": [item.name for item in images], "made_by": "moebius-edge export"},
        model={"block_out_channels": list(graphs.config.block_out_channels), "weights_sha256": model_hash},
        sdk_version=__version__,
    )
