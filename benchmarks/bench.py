"""The benchmark runner from Python: the same as `moebius-edge bench`, for notebooks and scripted runs.

    python benchmarks/bench.py BUNDLE [BUNDLE ...] --out benchmarks/results/<run> [--steps 10] [--warmup 2]
        [--threads T] [--samples 3] [--gpu-reference gpu_reference.json]

or, in Python:

    from edge_sdk.bench import run_bench
    result = run_bench(["bundles/0.2b-executorch-int8"], "bench-out", steps=10, warmup=2, samples=2)
    print(result["bundles"][0]["ratios"]["step_speedup_vs_eager"])

Writes bench.json (schema: benchmarks/bench_schema.json), bench.md and bench.png. The published numbers in
the README come from benchmarks/results/ (see the README there for how the 0.2B bundles were exported).
"""
from __future__ import annotations

import sys

from edge_sdk.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
