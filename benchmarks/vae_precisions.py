"""The ExecuTorch VAE graphs in fp32, fp16 and int8: encode and decode time, size, and drift from fp32.

    python benchmarks/vae_precisions.py --model moebius-0.2b --threads 1 --runs 2
    python benchmarks/vae_precisions.py --model nano --precisions fp32 int8 --kept-fp32 attentions

Only the encode and decode graphs are exported (a VAE comparison needs no step graph), each made and lowered as
a bundle's is (`backends/executorch/export.py`: `vae_program`, `lower_to_file`), then timed in the ExecuTorch
runtime (median of --runs after one warm-up, on a held-out photo) and measured against the fp32 deploy graphs
with `edge_sdk.calibration.vae.vae_drift` (the numbers an int8 bundle's manifest records). `--kept-fp32` and
`--observer` try other int8 choices than the backend's. Writes benchmarks/results/vae_precisions_<model>.json and
.md (--out to change). Run it on a quiet machine: the times are absolute.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(run, inputs, runs: int) -> float:
    """Median milliseconds of `run(*inputs)` over `runs` calls after one warm-up."""
    run(*inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(*inputs)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def runtime_graph(path: Path):
    """The `.pte` at `path` as a function of tensors returning its outputs (a list)."""
    import executorch.kernels.quantized  # noqa: F401  (quantize/dequantize kernels outside the delegate)
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(path)
    method = program.load_method("forward")
    return lambda *inputs, _program=program: list(method.execute([x.contiguous() for x in inputs]))


def measure(model: str, precisions: list[str], runs: int, observer: str, kept_fp32: tuple[str, ...]) -> dict:
    import torch

    from edge_sdk import InpaintPipeline
    from edge_sdk.backends.base import ProgramCache
    from edge_sdk.backends.executorch import export as executorch_export
    from edge_sdk.backends.executorch import quantize
    from edge_sdk.calibration.vae import held_out_photos, vae_drift
    from edge_sdk.deploy import DeployGraphs

    pipe = InpaintPipeline.from_preset(model)
    with torch.no_grad():
        graphs = DeployGraphs.build(pipe.denoiser, pipe.vae, steps=20)
    programs = ProgramCache(graphs)
    # A choice other than the backend's: the int8 programs come from it instead (same cache key).
    programs.memo(("int8-vae",), lambda: quantize.quantized_vae_programs(graphs, observer=observer, kept_fp32=kept_fp32))
    held_out = held_out_photos(graphs)
    photo = held_out[0]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for precision in precisions:
            start = time.perf_counter()
            row = {"precision": precision}
            graphs_here = {}
            for name in ("encode", "decode"):
                program, row["details"] = executorch_export.vae_program(graphs, name, precision, "xnnpack", programs, print)
                path = Path(work) / f"{name}-{precision}.pte"
                executorch_export.lower_to_file(program, "xnnpack", path, layout_round_trips=False)
                row[f"{name}_mb"] = round(path.stat().st_size / 1e6, 2)
                graphs_here[name] = runtime_graph(path)
            row["export_s"] = round(time.perf_counter() - start, 1)
            row["encode_ms"] = round(timed(graphs_here["encode"], (photo.image, photo.mask), runs), 1)
            row["decode_ms"] = round(timed(graphs_here["decode"], (photo.latents,), runs), 1)
            row["drift"] = vae_drift(
                graphs, graphs_here["encode"], lambda latents, run=graphs_here["decode"]: run(latents)[0], held_out
            )
            print(json.dumps(row), flush=True)
            rows.append(row)
            graphs_here.clear()
    return {"model": model, "runs": runs, "observer": observer, "kept_fp32": list(kept_fp32), "rows": rows}


def markdown(result: dict, threads: int) -> str:
    host = result["host"]
    lines = [
        f"# ExecuTorch VAE graphs by precision: {result['model']}",
        "",
        f"`python benchmarks/vae_precisions.py --model {result['model']} --threads {threads} --runs {result['runs']}`; "
        f"{threads} thread(s); host: {json.dumps(host)}. int8: observer {result['observer']}, kept in fp32: "
        f"{', '.join(result['kept_fp32']) or 'nothing'}. Drift against the fp32 deploy graphs on the held-out photos "
        "(worst photo): decode of the photo's latents, the whole photo through encode + decode (PSNR, dB), and the "
        "encode's masked latents (relative error).",
        "",
        "| VAE | encode MB | decode MB | encode ms | decode ms | decode PSNR dB | encode + decode PSNR dB | encode rel. error |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["rows"]:
        drift = row["drift"]
        lines.append(
            f"| {row['precision']} | {row['encode_mb']} | {row['decode_mb']} | {row['encode_ms']:,.0f} | {row['decode_ms']:,.0f} | "
            f"{drift['decode_psnr_db']} | {drift['round_trip_psnr_db']} | {drift['encode_relative_error']:.2e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="moebius-0.2b", help="a preset (moebius-0.2b: seeded random weights)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"], choices=["fp32", "fp16", "int8"])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--observer", default=None, help="int8 activation observer (default: the backend's)")
    parser.add_argument("--kept-fp32", nargs="*", default=None, help="layer-name parts kept in fp32 (default: the backend's)")
    parser.add_argument("--out", type=Path, help="results path without suffix (default benchmarks/results/vae_precisions_<model>)")
    args = parser.parse_args(argv)

    from edge_sdk.atomic_files import write_text_atomic
    from edge_sdk.backends.executorch import quantize
    from edge_sdk.bench.host import describe_host, load_average
    from edge_sdk.threads import use_threads

    use_threads(args.threads)
    observer = args.observer or quantize.VAE_OBSERVER
    kept = tuple(args.kept_fp32) if args.kept_fp32 is not None else quantize.VAE_KEPT_FP32
    host = describe_host()
    result = measure(args.model, args.precisions, args.runs, observer, kept)
    result["host"] = {**host, "load_average_end": load_average()}
    out = args.out or REPO / "benchmarks" / "results" / f"vae_precisions_{args.model}"
    write_text_atomic(out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_text_atomic(out.with_suffix(".md"), markdown(result, args.threads))
    print(f"wrote {out}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
