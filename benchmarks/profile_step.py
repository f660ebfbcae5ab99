"""Where a bundle's step time goes: ExecuTorch's own per-operator profile (ETDump read by the devtools Inspector).

    python benchmarks/profile_step.py BUNDLE [--runs 3] [--top 15] [--threads 1] [--rates] [--json profile.json]

Loads the bundle's step `.pte` with event tracing on (`enable_etdump`), runs the step on its embedded test
vector, and sums the recorded events by operator kind: XNNPACK's own per-operator events inside the delegate
(convolutions, GEMMs, transposes, ...) and every operator left on ExecuTorch's portable / quantized kernels.
The share outside XNNPACK is what delegating more ops can win; the XNNPACK rows say which kernels dominate.

With --rates it also measures the host's int8 peak (one large int8 linear layer, lowered the same way) and
prints the int8 GOP/s each kind of convolution kernel achieves in the step (FLOPs from the step graph's shapes).
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
    from edge_sdk.bundle.manifest import read_bundle
    from edge_sdk.bundle.known_answers import load_test_vector
    from edge_sdk.deploy.graph_contract import GRAPH_SIGNATURES

    opened = read_bundle(bundle)
    vector = load_test_vector(opened.path / opened.manifest.test_vector["file"])
    step_inputs, _ = GRAPH_SIGNATURES["step"]
    inputs = [vector[f"step.{name}"].contiguous() for name in step_inputs]
    return profile_program(opened.graph_path("step"), inputs, runs)


def profile_program(path: Path, inputs: list, runs: int) -> dict:
    """The same profile for any `.pte` and its inputs."""
    import executorch.kernels.quantized  # noqa: F401  (int8 bundles dequantize position tables with these kernels)
    from executorch.devtools import Inspector
    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    module = _load_for_executorch(str(path), enable_etdump=True, debug_buffer_size=0)
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


# XNNPACK operator kind → the step graph's convolutions it runs (edge_sdk.deploy.flops.conv_flops_by_kernel).
INT8_KERNELS = {
    "Fully Connected (NC, QS8, QC8W) GEMM": "pointwise",
    "Convolution (NHWC, QC8) IGEMM": "convolution",
    "Convolution (NHWC, QC8) DWConv": "depthwise",
}
PEAK_SHAPE = (8192, 1280, 1280)  # tokens × in × out of the peak-rate linear layer (the 0.2B model's widest 1×1)


def int8_peak_gops(runs: int = 5) -> float:
    """GOP/s of one large int8 linear layer's GEMM (PT2E, XNNPACK's int8 config, lowered like a bundle's graphs;
    ETDump time of the fully connected operator alone, without the fp32 ↔ int8 conversions around it)."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from edge_sdk.backends.executorch.export import lower_to_file

    tokens, width_in, width_out = PEAK_SHAPE
    layer = torch.nn.Linear(width_in, width_out).eval()
    x = (torch.randn(tokens, width_in),)
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(layer, x).module(), quantizer)
    prepared(*x)
    with torch.no_grad():
        program = torch.export.export(convert_pt2e(prepared), x)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "linear.pte"
        lower_to_file(program, "xnnpack", path)
        ms = profile_program(path, list(x), runs)["ops"]["Fully Connected (NC, QS8, QC8W) GEMM"]
    return 2 * tokens * width_in * width_out / (ms / 1e3) / 1e9


def step_conv_flops(bundle: Path) -> dict:
    """FLOPs of the bundle's step graph by convolution kernel kind (its model preset, rebuilt; shapes only)."""
    from edge_sdk.bundle.manifest import read_bundle
    from edge_sdk.deploy import DeployGraphs
    from edge_sdk.deploy.flops import conv_flops_by_kernel
    from edge_sdk.pipeline import InpaintPipeline

    manifest = read_bundle(bundle).manifest
    pipe = InpaintPipeline.from_preset(manifest.model)
    graphs = DeployGraphs.build(pipe.denoiser, pipe.vae, steps=manifest.baked_steps, strength=manifest.strength)
    return conv_flops_by_kernel(graphs.step, graphs.example_inputs()["step"])


def kernel_rates(result: dict, flops: dict, peak: float) -> dict:
    """{XNNPACK kind: {'gops', 'share_of_peak'}} for the int8 convolution kernels of a profile."""
    rates = {}
    for kind, kernel in INT8_KERNELS.items():
        ms = result["ops"].get(kind)
        if ms:
            gops = flops[kernel] / (ms / 1e3) / 1e9
            rates[kind] = {"gflop": round(flops[kernel] / 1e9, 2), "ms": round(ms, 1), "gops": round(gops, 1), "share_of_peak": round(gops / peak, 3)}
    return rates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="ExecuTorch (XNNPACK) threads (default 1)")
    parser.add_argument("--rates", action="store_true", help="int8 GOP/s per kernel kind against the host's int8 peak")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from edge_sdk.bench.host import load_average
    from edge_sdk.threads import set_threads

    set_threads(args.threads)
    load_before = load_average()
    result = profile(args.bundle, args.runs)
    result["threads"] = args.threads
    # Absolute times only mean something with the machine's load next to them (the machines are shared).
    result["load_average_1_5_15"] = {"start": load_before, "end": load_average()}
    execute, delegate = result["execute_ms"], result["delegate_ms"]
    print(f"{args.bundle.name}: step {execute:.1f} ms per run (mean of {args.runs}, first run included); "
          f"inside XNNPACK {delegate:.1f} ms ({100 * delegate / execute:.0f}%), outside (portable/quantized kernels, "
          f"copies) {execute - delegate:.1f} ms")
    for name, ms in list(result["ops"].items())[: args.top]:
        print(f"  {ms:9.1f} ms  {100 * ms / execute:5.1f}%  ×{result['calls'][name]:<5} {name}")
    transposes = sum(ms for kind, ms in result["ops"].items() if kind.startswith("Transpose"))
    result["transpose_share"] = round(transposes / execute, 4)
    print(f"  transposes: {transposes:.1f} ms, {100 * result['transpose_share']:.1f}% of the step")
    if args.rates:
        peak = int8_peak_gops()
        result["int8_peak_gops"] = {"gops": round(peak, 1), "layer": "int8 linear %d×%d on %d tokens" % (PEAK_SHAPE[1], PEAK_SHAPE[2], PEAK_SHAPE[0])}
        result["int8_kernel_rates"] = kernel_rates(result, step_conv_flops(args.bundle), peak)
        print(f"  int8 peak on this host: {peak:.0f} GOP/s ({result['int8_peak_gops']['layer']})")
        for kind, rate in result["int8_kernel_rates"].items():
            print(f"  {kind}: {rate['gflop']} GFLOP in {rate['ms']} ms = {rate['gops']} GOP/s, {100 * rate['share_of_peak']:.0f}% of peak")
    if args.json:
        args.json.write_text(json.dumps({"bundle": args.bundle.name, **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
