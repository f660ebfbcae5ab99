"""`run_bench`: every bundle and the PyTorch eager fp32 reference of the same model, measured in one run.

Per configuration: load time, encode / step / decode latency, one whole inpaint, peak memory (in a child
process), size, and PSNR against the reference pipeline on the bundled samples. Ratios to the reference
come from the same run on the same host: on a shared or thermally throttled machine they are what
compares, absolute times only with the host named (bench.json records the CPU and the load average).
"""
from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path
from typing import Optional, Sequence

import torch

from edge_sdk.bench import host as host_info
from edge_sdk.bench import native_runner
from edge_sdk.bench.latency import calls_per_measurement, measure_graphs
from edge_sdk.bench.memory import measure_in_child
from edge_sdk.bench.quality import compare, inpaint_samples, summary
from edge_sdk.bench.reference import model_key, reference_graphs
from edge_sdk.bench.schema import SCHEMA_NAME, SCHEMA_VERSION
from edge_sdk.bench.threads import runtime_threads
from edge_sdk.threads import use_threads
from edge_sdk.errors import EdgeSDKError

REFERENCE_NAME = "pytorch-eager-fp32"
OUTPUTS = ("bench.json", "bench.md", "bench.png")


class BenchError(EdgeSDKError):
    """A benchmark request that cannot be carried out (bad settings, bundles of different models)."""


def _check_settings(steps: int, warmup: int, threads: Optional[int], samples: int) -> None:
    if steps < 1:
        raise BenchError(f"--steps must be at least 1, got {steps}")
    if warmup < 0:
        raise BenchError(f"--warmup must be 0 or more, got {warmup}")
    if threads is not None and threads < 1:
        raise BenchError(f"--threads must be at least 1, got {threads}")
    if samples < 0:
        raise BenchError(f"--samples must be 0 or more, got {samples}")


def _open_bundles(paths: Sequence[Path]):
    """Read every bundle (hashes checked) and check its runtime exists here, before any long measurement."""
    from edge_sdk.backends import get_backend
    from edge_sdk.errors import BackendUnavailableError
    from edge_sdk.bundle.manifest import read_bundle

    if not paths:
        raise BenchError("give at least one bundle folder")
    bundles = [read_bundle(Path(p)) for p in paths]
    for bundle in bundles:
        ok, why = get_backend(bundle.backend).runtime_available()
        if not ok:
            raise BackendUnavailableError(f"cannot benchmark {bundle.path.name} ({bundle.backend}) here: {why}")
    keys = [model_key(b.manifest) for b in bundles]
    for bundle, key in zip(bundles[1:], keys[1:]):
        if key != keys[0]:
            differing = sorted(k for k in key if key[k] != keys[0][k])
            raise BenchError(
                f"{bundle.path.name} and {bundles[0].path.name} differ in {', '.join(differing)}: one bench run compares "
                "bundles of one model and schedule (they share its eager reference); run them separately"
            )
    return bundles


def _model_bytes(graphs) -> int:
    modules = [graphs.step, graphs.encode, graphs.decode]
    seen, total = set(), 0
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                total += tensor.numel() * tensor.element_size()
    return total


def _measure(graphs, image_size, steps, warmup, samples, bar, what: str):
    bar.set_description(f"{what}: latency")
    latency = measure_graphs(graphs, image_size, steps, warmup, lambda: bar.update(1))
    bar.set_description(f"{what}: inpainting {samples} sample(s)")
    if samples:
        images, first_seconds = inpaint_samples(graphs.run, image_size, samples, lambda: bar.update(1))
        return latency, images, first_seconds, True
    # No sample inpainted: the loop's cost from the stage medians (pre/post-processing left out), flagged as such.
    steps_run = len(graphs.timesteps)
    estimate = (latency.encode.p50_ms + steps_run * latency.step.p50_ms + latency.decode.p50_ms) / 1000.0
    bar.update(1)
    return latency, [], estimate, False


def _entry(
    *, name, backend, precision, graph_precisions, size, load_s, latency, end_to_end, steps_run, memory, threads, quality, vector=None,
    runner="python",
) -> dict:
    """One row of bench.json: a configuration's sizes, latencies, memory and quality (ratios filled in later)."""
    end_to_end_s, measured = end_to_end
    return {
        "name": name,
        "runner": runner,
        "backend": backend,
        "precision": precision,
        "graph_precisions": graph_precisions,
        "size_bytes": size,
        "load_s": round(load_s, 3),
        "encode": latency.encode.to_dict(),
        "step": latency.step.to_dict(),
        "decode": latency.decode.to_dict(),
        "end_to_end_s": None if end_to_end_s is None else round(end_to_end_s, 3),
        "end_to_end_measured": measured,
        "steps_run": steps_run,
        "peak_rss_mb": memory.get("peak_rss_mb"),
        "baseline_rss_mb": memory.get("baseline_rss_mb"),
        "threads": threads,
        "quality": quality,
        "test_vector_error": vector,
        "ratios": {"step_speedup_vs_eager": None, "end_to_end_speedup_vs_eager": None, "step_vs_gpu": None},
    }


def _ratio(numerator, denominator):
    return None if numerator is None or not denominator else round(numerator / denominator, 3)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What every configuration of one bench run is measured with."""

    steps: int
    warmup: int
    threads: Optional[int]
    samples: int
    measure_memory: bool
    image_size: int
    steps_run: int


def run_bench(
    bundles: Sequence,
    out_dir,
    *,
    steps: int = 10,
    warmup: int = 2,
    threads: Optional[int] = None,
    samples: int = 3,
    gpu_reference=None,
    checkpoint=None,
    vae=None,
    measure_memory: bool = True,
    progress: bool = True,
    cpp: bool = True,
    cpp_runner: Optional[Path] = None,
) -> dict:
    """Benchmark `bundles` (folders) against the eager fp32 reference; writes bench.json/.md/.png into
    `out_dir` and returns the bench.json document. With `cpp`, ExecuTorch bundles get a second row from the C++
    runner (`cpp_runner`, or the one built in build/bindings-cpp; a note says so when there is none)."""
    from tqdm.auto import tqdm

    from edge_sdk.bench.gpu_reference_file import load_gpu_reference, summarise
    from edge_sdk.samples import sample_pairs

    _check_settings(steps, warmup, threads, samples)
    samples = min(samples, len(sample_pairs()))
    gpu_document = load_gpu_reference(Path(gpu_reference)) if gpu_reference is not None else None
    runner_path, cpp_note = native_runner.find_runner(cpp_runner) if cpp else (None, None)
    opened = _open_bundles([Path(b) for b in bundles])
    native = [b for b in opened if runner_path is not None and native_runner.runs_natively(b)]
    manifest = opened[0].manifest
    model_name = manifest.model_name
    gpu = summarise(gpu_document, Path(gpu_reference).name, model_name) if gpu_document is not None else None
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchError(f"--out {out_dir} is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    host = host_info.describe_host()
    # Through edge_sdk.threads: ONNX Runtime sessions opened later take the count from there (set_threads alone
    # left them on ONNX Runtime's every-core default, and the "1 thread" ONNX Runtime rows ran on 2).
    use_threads(threads)
    plan = _Plan(steps, warmup, threads, samples, measure_memory, manifest.image_size, len(manifest.timesteps))
    per_config = 1 + calls_per_measurement(steps, warmup) + max(samples, 1) + (1 if measure_memory else 0)
    total = per_config * (1 + len(opened)) + max(samples, 1) * len(native)
    bar = tqdm(total=total, unit="call", disable=not progress, leave=False)
    torch.manual_seed(0)
    notes = [cpp_note] if cpp_note else []
    try:
        reference, ref_images = _reference_entry(manifest, opened[0].path, plan, checkpoint, vae, bar)
        entries = []
        for bundle in opened:
            entries.append(_bundle_entry(bundle, plan, ref_images, bar))
            if bundle in native:
                entries.append(_cpp_entry(bundle, runner_path, plan, ref_images, bar, notes))
    finally:
        bar.close()

    _add_ratios(reference, entries, gpu)
    host["load_average_end"] = host_info.load_average()
    result = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "host": host,
        "toolchain": host_info.toolchain_versions(),
        "settings": {"steps": steps, "warmup": warmup, "threads": threads, "quality_samples": samples},
        "model": _model_summary(manifest, plan),
        "reference": reference,
        "bundles": entries,
        "gpu_reference": gpu,
        "notes": _notes(host, gpu) + notes,
    }
    _write_reports(result, out_dir)
    return result


def _model_summary(manifest, plan: _Plan) -> dict:
    return {
        "name": manifest.model_name,
        "random_weights": bool(manifest.source.get("random_weights", False)),
        "image_size": plan.image_size,
        "timesteps": list(manifest.timesteps),
        "strength": float(manifest.strength),
        "guidance_scale": float(manifest.guidance_scale),
    }


def _write_reports(result: dict, out_dir: Path) -> None:
    """bench.json, bench.md and bench.png, each written atomically."""
    from edge_sdk.atomic_files import write_atomic, write_text_atomic
    from edge_sdk.bench.report_json import write_json
    from edge_sdk.bench.report_markdown import render
    from edge_sdk.bench.report_plot import draw

    write_json(result, out_dir / "bench.json")
    write_text_atomic(out_dir / "bench.md", render(result))
    write_atomic(out_dir / "bench.png", lambda temporary: draw(result, temporary))


def _reference_entry(manifest, first_bundle: Path, plan: _Plan, checkpoint, vae, bar):
    """(The eager fp32 reference's row, its inpainted samples), built from the bundles' model and schedule."""
    bar.set_description(f"{REFERENCE_NAME}: building")
    start = time.perf_counter()
    ref_graphs = reference_graphs(manifest, checkpoint, vae)
    ref_load = time.perf_counter() - start
    bar.update(1)
    latency, images, *e2e = _measure(ref_graphs, plan.image_size, plan.steps, plan.warmup, plan.samples, bar, REFERENCE_NAME)
    memory = {}
    if plan.measure_memory:
        bar.set_description(f"{REFERENCE_NAME}: peak memory (child process)")
        memory = measure_in_child("reference", first_bundle, plan.threads, checkpoint, vae)
        bar.update(1)
    entry = _entry(
        name=REFERENCE_NAME, backend="pytorch", precision="fp32",
        graph_precisions={"encode": "fp32", "step": "fp32", "decode": "fp32"}, size=_model_bytes(ref_graphs),
        load_s=ref_load, latency=latency, end_to_end=e2e, steps_run=plan.steps_run, memory=memory,
        threads={"requested": plan.threads, "runtime": runtime_threads("pytorch")}, quality=None,
    )
    return entry, images


def _bundle_entry(bundle, plan: _Plan, ref_images: list, bar) -> dict:
    """A bundle's row: loaded through `edge_sdk.load`, measured like the reference, compared with its images."""
    from edge_sdk.bundle.inpaint_bundle import load

    name = bundle.path.name
    bar.set_description(f"{name}: loading")
    start = time.perf_counter()
    loaded = load(bundle.path)
    load_s = time.perf_counter() - start
    bar.update(1)
    latency, images, *e2e = _measure(loaded.graphs, plan.image_size, plan.steps, plan.warmup, plan.samples, bar, name)
    quality = summary(compare(images, ref_images)) if plan.samples else None
    memory = {}
    del loaded
    if plan.measure_memory:
        bar.set_description(f"{name}: peak memory (child process)")
        memory = measure_in_child("bundle", bundle.path, plan.threads)
        bar.update(1)
    graphs = bundle.manifest.graphs
    return _entry(
        name=name, backend=bundle.backend, precision=bundle.precision,
        graph_precisions={g: graphs[g].get("precision", bundle.precision) for g in graphs},
        size=sum(int(r["bytes"]) for r in bundle.manifest.files.values()), load_s=load_s, latency=latency,
        end_to_end=e2e, steps_run=plan.steps_run, memory=memory,
        threads={"requested": plan.threads, "runtime": runtime_threads(bundle.backend)}, quality=quality,
        vector=bundle.manifest.test_vector.get("measured"),
    )


def _cpp_entry(bundle, runner: Path, plan: _Plan, ref_images: list, bar, notes: list) -> dict:
    """The C++ runner's row of a bundle: its own process's timings, peak memory and pictures."""
    name = bundle.path.name
    bar.set_description(f"{name}: C++ runner")
    measured = native_runner.measure(runner, bundle, plan.image_size, plan.samples, plan.threads, ref_images, lambda: bar.update(1))
    report = measured["report"]
    if measured["note"]:
        notes.append(f"{name} (C++ runner): {measured['note']}")
    latency, end_to_end_s = native_runner.latency(report)
    memory = report["memory_mb"]
    graphs = bundle.manifest.graphs
    return _entry(
        name=name, backend=bundle.backend, precision=bundle.precision, runner="cpp",
        graph_precisions={g: graphs[g].get("precision", bundle.precision) for g in graphs},
        size=sum(int(r["bytes"]) for r in bundle.manifest.files.values()), load_s=report["open_ms"] / 1000.0, latency=latency,
        end_to_end=(end_to_end_s, True), steps_run=plan.steps_run,
        memory={"peak_rss_mb": round(memory["peak_rss"], 1), "baseline_rss_mb": round(memory["before_open"], 1)},
        threads={"requested": plan.threads, "runtime": plan.threads}, quality=measured["quality"],
        vector=bundle.manifest.test_vector.get("measured"),
    )


def _add_ratios(reference: dict, entries: list[dict], gpu: Optional[dict]) -> None:
    for entry in [reference, *entries]:
        ratios = entry["ratios"]
        ratios["step_speedup_vs_eager"] = _ratio(reference["step"]["p50_ms"], entry["step"]["p50_ms"])
        ratios["end_to_end_speedup_vs_eager"] = _ratio(reference["end_to_end_s"], entry["end_to_end_s"])
        if gpu is not None and gpu["comparable"]:
            ratios["step_vs_gpu"] = _ratio(entry["step"]["p50_ms"], gpu["step_ms"])


def _notes(host: dict, gpu: Optional[dict]) -> list[str]:
    notes = []
    if host["load_average_start"] and host["logical_cores"] and max(host["load_average_start"][0], (host["load_average_end"] or [0])[0]) > host["logical_cores"]:
        notes.append(
            f"the host was busy (load average above its {host['logical_cores']} cores): absolute times are inflated "
            "and noisy; compare the ratios, which come from the same run"
        )
    if gpu is not None and gpu.get("note"):
        notes.append(gpu["note"])
    return notes
