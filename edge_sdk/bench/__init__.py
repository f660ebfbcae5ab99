"""Benchmarks of exported bundles: per-step latency, memory, size and image quality, against PyTorch eager.

    from edge_sdk.bench import run_bench
    result = run_bench(["bundles/0.2b-executorch-int8"], out_dir="bench-out", steps=10, warmup=2)

writes bench.json (schema: `edge_sdk.bench.schema`, copied to benchmarks/bench_schema.json), bench.md and
bench.png. The CLI is `moebius-edge bench BUNDLE [BUNDLE ...] --out DIR`.
"""

__all__ = ["run_bench"]


def __getattr__(name):
    if name == "run_bench":
        from edge_sdk.bench.runner import run_bench

        return run_bench
    raise AttributeError(f"module 'edge_sdk.bench' has no attribute {name!r}")
