"""Batch inpainting throughput on Ray: images per minute for a model with 1 and 2 actors (1 torch thread
each) against a plain single-process loop over the same rows, and Ray's per-row overhead.

    python benchmarks/scaleout_throughput.py                 # nano, 16 rows (the 8 bundled samples × 2 seeds)
    python benchmarks/scaleout_throughput.py --rows 8 --model tiny

Steady-state rate = (rows − 1) / (last row's finish − first row's finish), from results.parquet's
`finished_at`, so Ray's start and the actors' model loading are left out (reported separately as the
job's wall time). Per-row overhead = the 1-actor steady-state seconds per row − the mean seconds a row
spends inside its actor (reading, inpainting, writing). Records the load average: on a shared machine the
2-actor scaling is bounded by what the other processes leave. Writes benchmarks/results/scaleout_<model>.json
(scaleout_<model>.md is the written reading of it).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_rows(folder: Path, count: int) -> Path:
    """A manifest of `count` rows: the bundled samples (their own sizes and masks), cycling seeds."""
    import csv

    from edge_sdk.samples import sample_pairs

    pairs = sample_pairs()
    manifest = folder / "rows.csv"
    with manifest.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["image", "mask", "seed", "output"])
        for index in range(count):
            image, mask = pairs[index % len(pairs)]
            seed = index // len(pairs)
            writer.writerow([image, mask, seed, f"images/{image.stem}_{seed}.png"])
    return manifest


def single_process(manifest: Path, model: str) -> dict:
    import csv

    import torch

    from edge_sdk.pipeline import InpaintPipeline

    torch.set_num_threads(1)
    start = time.perf_counter()
    pipe = InpaintPipeline.from_preset(model)
    load = time.perf_counter() - start
    seconds = []
    for row in csv.DictReader(manifest.open()):
        begin = time.perf_counter()
        pipe(row["image"], row["mask"], seed=int(row["seed"]), progress=False)
        seconds.append(time.perf_counter() - begin)
    return {"load_s": round(load, 2), "seconds_per_image": round(statistics.mean(seconds), 3), "images_per_minute": round(60 / statistics.mean(seconds), 2)}


def ray_run(manifest: Path, model: str, actors: int, work: Path) -> dict:
    from edge_sdk.scaleout.batch import batch
    from edge_sdk.scaleout.batch_results import read_results

    start = time.perf_counter()
    summary = batch(manifest, work / f"out-{actors}", model=model, actors=actors, threads=1, progress=False)
    wall = time.perf_counter() - start
    results = read_results(work / f"out-{actors}")
    finished = sorted(r["finished_at"] for r in results)
    steady = (finished[-1] - finished[0]) / (len(finished) - 1)
    inside = statistics.mean(r["seconds"] for r in results)
    return {
        "actors": actors, "rows": summary.rows, "failed": summary.failed, "job_wall_s": round(wall, 1),
        "steady_seconds_per_image": round(steady, 3), "images_per_minute": round(60 / steady, 2),
        "seconds_inside_actor_per_image": round(inside, 3), "workers": sorted({r["worker"] for r in results}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="nano")
    parser.add_argument("--rows", type=int, default=16)
    args = parser.parse_args()
    import ray

    from edge_sdk.bench.host import describe_host, load_average

    host = describe_host()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        manifest = make_rows(work, args.rows)
        baseline = single_process(manifest, args.model)
        ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
        try:
            runs = [ray_run(manifest, args.model, actors, work) for actors in (1, 2)]
        finally:
            ray.shutdown()
    one, two = runs
    overhead = one["steady_seconds_per_image"] - one["seconds_inside_actor_per_image"]
    result = {
        "model": args.model, "rows": args.rows, "host": host, "load_average_end": load_average(),
        "single_process": baseline, "ray": runs,
        "ray_overhead_seconds_per_row": round(overhead, 3),
        "scaling_efficiency_2_actors": round(two["images_per_minute"] / (2 * one["images_per_minute"]), 3),
    }
    out = REPO / "benchmarks" / "results" / f"scaleout_{args.model}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
