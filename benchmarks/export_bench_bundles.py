"""Export the bundles of the published benchmark: moebius-0.2b (seeded random weights), 20 DDIM steps.

    python benchmarks/export_bench_bundles.py executorch fp32 /tmp/bundles/moebius-0.2b-executorch-fp32
    python benchmarks/export_bench_bundles.py executorch int8 /tmp/bundles/moebius-0.2b-executorch-int8

One export at a time: the 0.2B model takes several GB and many minutes on 2 cores. int8 uses the quantization
policy's default layer plan (`edge_sdk.calibration.policy.plan_layers`: the timestep path, conv_in/conv_out
and the λ internals stay in float) with min/max observers calibrated on step inputs along the fp32 trajectory
of a bundled sample: speed does not depend on the ranges, and the PSNR column shows the drift they give.
With official weights, export with a searched recipe instead (`moebius-edge export --recipe`).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

CALIBRATION_STEPS = (0, 4, 8, 12)


def calibration_inputs(graphs) -> list[tuple]:
    from edge_sdk.bench.latency import sample_square

    image, mask = sample_square(0, graphs.config.image_size)
    samples = []
    with torch.no_grad():
        masked_latents, mask_latent = graphs.encode(image, mask)[:2]
        x = torch.randn(1, 4, graphs.config.sample_size, graphs.config.sample_size, generator=torch.Generator().manual_seed(0))
        for i in range(max(CALIBRATION_STEPS) + 1):
            index = torch.tensor([i], dtype=torch.int64)
            if i in CALIBRATION_STEPS:
                samples.append((x.clone(), masked_latents, mask_latent, index))
            x = graphs.step(x, masked_latents, mask_latent, index)
    return samples


def default_recipe(graphs):
    from edge_sdk import __version__
    from edge_sdk.calibration.policy import plan_layers
    from edge_sdk.calibration.recipe import LayerRecipe, Recipe

    plan = plan_layers(graphs.step)
    return Recipe(
        layers={name: LayerRecipe("int8", "minmax", None) for name in plan.candidates},
        excluded=tuple(plan.excluded),
        data_hash="0" * 64,  # ranges come from the calibration inputs passed with it, not from a recorded set
        settings={"source": "benchmarks/export_bench_bundles.py: policy default, minmax, one bundled sample"},
        model={"name": "moebius-0.2b"},
        sdk_version=__version__,
    )


def main(backend: str, precision: str, out: Path) -> None:
    from edge_sdk.bundle.export import export_bundle
    from edge_sdk.bundle.manifest import model_description
    from edge_sdk.checkpoint import load_denoiser
    from edge_sdk.deploy import DeployGraphs
    from edge_sdk.vae import build_vae

    torch.set_num_threads(1)  # a shared machine: one core for the export
    started = time.time()
    log = lambda message: print(f"[{time.time() - started:7.1f}s] {message}", flush=True)
    graphs = DeployGraphs.build(load_denoiser(None, "moebius-0.2b"), build_vae("pixelhacker"), steps=20, strength=1.0, guidance_scale=2.5)
    recipe = calibration = None
    if precision == "int8":
        recipe, calibration = default_recipe(graphs), calibration_inputs(graphs)
        log(f"{len(calibration)} calibration inputs recorded")
    model = model_description("moebius-0.2b", graphs.config, vae="pixelhacker", random_weights=True)
    export_bundle(graphs, backend, precision, out, recipe=recipe, calibration=calibration, model=model, progress=log)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
