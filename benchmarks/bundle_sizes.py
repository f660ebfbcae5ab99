"""Exports the 0.2B model's bundles (seeded random weights, 20 steps) and records their sizes, peak memory and
export time: the ExecuTorch int8 bundle (int8 step, fp16 VAE) and, with --precisions, others. With --keep the
bundles stay under --work for `moebius-edge bench`.

    python benchmarks/bundle_sizes.py                                 # int8 only, ~1 h single-threaded on 2 cores
    python benchmarks/bundle_sizes.py --precisions int8 fp32 --keep   # the published benchmark's bundles
    python benchmarks/bundle_sizes.py --backend onnxruntime --precisions fp32 int8 --keep
    python benchmarks/bundle_sizes.py --vae-precision int8 --keep       # int8 step, int8 VAE (x86 hosts)
    python benchmarks/bundle_sizes.py --vae-precision int8/fp32 --keep  # int8 step and encode, fp32 decode

int8 uses the calibration policy's default layer plan (every candidate int8; the timestep path, conv_in/conv_out
and the λ internals stay float) with min/max ranges from step inputs along one fp32 trajectory of a bundled
sample: sizes and speed do not depend on the ranges. With official weights, export with a searched recipe
instead (`moebius-edge export --recipe`). Writes benchmarks/results/bundle_sizes_<model>[_<backend>].json and .md.
Runs with one thread: the machines are shared.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """Samples this process's RSS every half second (ru_maxrss also counts the interpreter's start-up)."""

    def __init__(self):
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def trajectory_samples(graphs, count: int) -> list[tuple]:
    """Step-graph inputs at `count` evenly spaced steps of one fp32 trajectory of a bundled sample."""
    import numpy as np
    import torch

    from edge_sdk.calibration.dataset import load_images

    item = load_images(None, None, 1, graphs.config.image_size)[0]
    keep = set(int(round(v)) for v in np.linspace(0, len(graphs.timesteps) - 1, count))
    samples = []
    with torch.no_grad():
        masked_latents, mask_latent = graphs.encode(item.image, item.mask)[:2]
        side = graphs.config.sample_size
        x = torch.randn(1, 4, side, side, generator=torch.Generator().manual_seed(0))
        for i in range(max(keep) + 1):
            index = torch.tensor([i], dtype=torch.int64)
            if i in keep:
                samples.append((x.clone(), masked_latents, mask_latent, index))
            x = graphs.step(x, masked_latents, mask_latent, index)
    return samples


def policy_recipe(graphs):
    """Every layer the calibration policy allows in int8 (ranges: from the samples passed with it)."""
    from edge_sdk import __version__
    from edge_sdk.calibration.policy import QuantPolicy, plan_layers
    from edge_sdk.calibration.recipe import LayerRecipe, Recipe

    policy = QuantPolicy(observer="minmax")
    plan = plan_layers(graphs.step, policy)
    layers = {name: LayerRecipe("int8", policy.observer, None) for name in plan.candidates}
    layers.update({item.name: LayerRecipe("fp32") for item in plan.excluded_layers})
    return Recipe(
        layers=layers, excluded=tuple(plan.excluded), data_hash="0" * 64,
        settings={"source": "benchmarks/bundle_sizes.py: policy default plan, minmax on trajectory samples"},
        model={"block_out_channels": list(graphs.config.block_out_channels)}, sdk_version=__version__,
    )


def with_observed_ranges(graphs, recipe, samples):
    """`recipe` with each int8 layer's input and output min/max over the step graph run on `samples`: the ranges
    ONNX Runtime's quantizer takes from a recipe (the ExecuTorch export observes the samples itself, in PT2E)."""
    import dataclasses

    import torch

    modules = dict(graphs.step.named_modules())
    seen: dict[str, dict[str, list[float]]] = {}

    def observe(name):
        def hook(module, inputs, output):
            for role, tensor in (("input", inputs[0]), ("output", output)):
                low, high = seen.setdefault(name, {}).get(role, (float("inf"), float("-inf")))
                seen[name][role] = (min(low, tensor.min().item()), max(high, tensor.max().item()))
        return hook

    names = [name for name, layer in recipe.layers.items() if layer.precision == "int8"]
    handles = [modules[name].register_forward_hook(observe(name)) for name in names]
    try:
        with torch.no_grad():
            for sample in samples:
                graphs.step(*sample)
    finally:
        for handle in handles:
            handle.remove()
    unseen = [name for name in names if name not in seen]
    if unseen:
        raise SystemExit(f"int8 layer {unseen[0]} (and {len(unseen) - 1} more) never ran as a module: no range for it")
    layers = dict(recipe.layers)
    for name in names:
        layers[name] = dataclasses.replace(layers[name], activation_range=seen[name])
    return dataclasses.replace(recipe, layers=layers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="moebius-0.2b")
    parser.add_argument("--backend", default="executorch")
    parser.add_argument("--precisions", nargs="+", default=["int8"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--calibration-samples", type=int, default=4, help="step inputs along one fp32 trajectory")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "bench-bundles")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--vae-precision", help="the VAE graphs': fp32, fp16, int8 or ENCODE/DECODE such as int8/fp32 (default: the backend's)")
    parser.add_argument("--decode-tile", type=int, help="also export each bundle with a decode graph for LATENTS² tiles")
    parser.add_argument("--decode-overlap", type=int, default=16, help="with --decode-tile: latents shared by neighbouring tiles")
    parser.add_argument("--keep", action="store_true", help="keep the bundles (they are large)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from edge_sdk.backends.base import ProgramCache
    from edge_sdk.bundle.export import export_bundle
    from edge_sdk.bundle.files import directory_size
    from edge_sdk.deploy import DeployGraphs
    from edge_sdk.pipeline import InpaintPipeline

    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:8.1f}s rss {rss_mb():7.0f} MB] {message}", flush=True)

    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    progress(f"building {args.model} (random weights) and its deploy graphs")
    pipe = InpaintPipeline.from_preset(args.model)
    with torch.no_grad():
        graphs = DeployGraphs.build(pipe.denoiser, pipe.vae, steps=args.steps)
    programs = ProgramCache(graphs)
    results = {"model": args.model, "backend": args.backend, "steps": args.steps, "threads": 1, "bundles": {}}
    recipe = calibration = None
    if "int8" in args.precisions:
        with PeakMemory() as memory:
            began = time.perf_counter()
            progress(f"recording {args.calibration_samples} step inputs along an fp32 trajectory")
            calibration = trajectory_samples(graphs, args.calibration_samples)
            recipe = policy_recipe(graphs)
            if args.backend == "onnxruntime":
                progress("int8 layers' activation ranges on those samples (ONNX Runtime's quantizer reads them from the recipe)")
                recipe = with_observed_ranges(graphs, recipe, calibration)
        results["calibration"] = {
            "samples": len(calibration), "seconds": round(time.perf_counter() - began, 1), "peak_rss_mb": round(memory.peak),
            "int8_layers": recipe.count("int8"), "fp32_layers": recipe.count("fp32"),
            "recipe": "the calibration policy's default plan, every candidate int8 (what the size target is about); "
                      "ranges from PT2E observers on the recorded samples",
        }
    variants = [("", graphs, programs)]
    if args.decode_tile is not None:
        from edge_sdk.deploy.tiled_decode import DecodeTiling

        tiled = graphs.with_decode_tiling(DecodeTiling(args.decode_tile, args.decode_overlap))
        variants.append((f"-tile{args.decode_tile}", tiled, ProgramCache(tiled)))
    for (tiling, variant_graphs, variant_programs), precision in [(v, precision) for precision in args.precisions for v in variants]:
        vae = f"-vae-{args.vae_precision.replace('/', '-')}" if args.vae_precision else ""
        key = f"{precision}{tiling}"
        folder = args.work / f"{args.model}-{args.backend}-{precision}{vae}{tiling}"
        shutil.rmtree(folder, ignore_errors=True)
        with PeakMemory() as memory:
            began = time.perf_counter()
            bundle = export_bundle(
                variant_graphs, args.backend, precision, folder, vae_precision=args.vae_precision, recipe=recipe if precision == "int8" else None,
                calibration_samples=calibration if precision == "int8" else None, programs=variant_programs, model={"name": args.model, "random_weights": True}, progress=progress,
            )
        manifest = bundle.manifest
        sizes = {name: directory_size(bundle.graph_path(name)) for name in ("encode", "step", "decode")}
        results["bundles"][key] = {
            "graph_bytes": sizes,
            "graph_precisions": {name: manifest.graphs[name]["precision"] for name in sizes},
            "bundle_bytes": directory_size(folder),
            "export_seconds": round(time.perf_counter() - began, 1),
            "peak_rss_mb": round(memory.peak),
            "delegation": (manifest.backend_details or {}).get("delegation"),
            "test_vector": manifest.test_vector,
        }
        progress(f"{key}: step {sizes['step'] / 1e6:.1f} MB, bundle {directory_size(folder) / 1e6:.1f} MB")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    results["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    stem = f"bundle_sizes_{args.model}" + ("" if args.backend == "executorch" else f"_{args.backend}")
    stem += f"_vae_{args.vae_precision.replace('/', '_')}" if args.vae_precision else ""
    (args.results / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# {args.backend} bundle sizes, {args.model} (random weights, {args.steps} steps)", "",
             "| precision | encode | step | decode | bundle | export | peak RSS |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for precision, entry in results["bundles"].items():
        g = entry["graph_bytes"]
        lines.append(
            f"| {precision} ({entry['graph_precisions']['encode']}/{entry['graph_precisions']['step']}/{entry['graph_precisions']['decode']}) "
            f"| {g['encode'] / 1e6:.1f} MB | {g['step'] / 1e6:.1f} MB | {g['decode'] / 1e6:.1f} MB | {entry['bundle_bytes'] / 1e6:.1f} MB "
            f"| {entry['export_seconds'] / 60:.1f} min | {entry['peak_rss_mb'] / 1024:.1f} GB |"
        )
    (args.results / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
