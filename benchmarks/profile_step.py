"""Where a bundle's step time goes: ExecuTorch's own per-operator profile (ETDump read by the devtools Inspector).

    python benchmarks/profile_step.py BUNDLE [--runs 3] [--top 15] [--json profile.json]

Loads the bundle's step `.pte` with event tracing on (`enable_etdump`), runs the step on its embedded test
vector, and sums the recorded events by operator kind: XNNPACK's own per-operator events inside the delegate
(convolutions, GEMMs, transposes, ...) and every operator left on ExecuTorch's portable / quantized kernels.
The share outside XNNPACK is what delegating more ops can win; the XNNPACK rows say which kernels dominate.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
from pathlib import Path


WRAPPERS = ("Method::execute", "DELEGATE_CALL", "Program::load_method", "Method::init")


def op_kind(name: str) -> str:
    """'Convolution (NHWC, F32) IGEMM #12' → 'Convolution (NHWC, F32) IGEMM': one row per XNNPACK operator kind."""
    return re.sub(r" #\d+$", "", name)


def profile(bundle: Path, runs: int) -> dict:
    """{'execute_ms', 'delegate_ms', 'ops': {kind: ms}, 'calls': {kind: n}} per step run (means over `runs`)."""
    import executorch.kernels.quantized  # noqa: F401  (int8 bundles dequantize position tables with these kernels)
    from executorch.devtools import Inspector
    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    from edge_sdk.bundle.manifest import read_bundle
    from edge_sdk.bundle.test_vector import load_test_vector

    opened = read_bundle(bundle)
    vector = load_test_vector(opened.path / opened.manifest["test_vector"]["file"])
    inputs = [vector[f"step.{k}"].contiguous() for k in ("x", "masked_latents", "mask_latent", "step_index")]
    module = _load_for_executorch(str(opened.graph_path("step")), enable_etdump=True, debug_buffer_size=0)
    for _ in range(runs):
        module.forward(inputs)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "step.etdp"
        module.write_etdump_result_to_file(str(path))
        inspector = Inspector(etdump_path=str(path))
    totals: dict[str, float] = collections.defaultdict(float)
    calls: dict[str, int] = collections.defaultdict(int)
    for block in inspector.event_blocks:
        for event in block.events:
            if event.perf_data is None:
                continue
            kind = op_kind(event.name)
            totals[kind] += sum(event.perf_data.raw)
            calls[kind] += len(event.perf_data.raw)
    return {
        "execute_ms": totals.pop("Method::execute", 0.0) / runs,
        "delegate_ms": totals.pop("DELEGATE_CALL", 0.0) / runs,
        "ops": {k: v / runs for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if k not in WRAPPERS},
        "calls": {k: v // runs for k, v in calls.items() if k not in WRAPPERS},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = profile(args.bundle, args.runs)
    execute, delegate = result["execute_ms"], result["delegate_ms"]
    print(f"{args.bundle.name}: step {execute:.1f} ms per run (mean of {args.runs}, first run included); "
          f"inside XNNPACK {delegate:.1f} ms ({100 * delegate / execute:.0f}%), outside (portable/quantized kernels, "
          f"copies) {execute - delegate:.1f} ms")
    for name, ms in list(result["ops"].items())[: args.top]:
        print(f"  {ms:9.1f} ms  {100 * ms / execute:5.1f}%  ×{result['calls'][name]:<5} {name}")
    if args.json:
        args.json.write_text(json.dumps({"bundle": args.bundle.name, **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
