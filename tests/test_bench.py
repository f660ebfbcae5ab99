"""`moebius-edge bench` on a tiny ExecuTorch bundle: bench.json follows its schema, the numbers hang together,
the table and the plot are written; and the pieces (statistics, GPU reference, schema, errors) on their own."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edge_sdk.bench.schema import BenchSchemaError, schema_text, validate
from edge_sdk.bench.stats import LatencyStats, percentile

REPO = Path(__file__).resolve().parents[1]


def _tiny_bench_bundle(backend: str) -> Path:
    """The backend tests' tiny fp32 bundle of `backend` (backend_bundles: 2 baked steps, exported once per code
    version), under the folder name a user's export gives it: bench names each row after its bundle's folder."""
    from backend_bundles import CACHE, tiny_bundles

    from edge_sdk.backends import get_backend

    available, why = get_backend(backend).runtime_available()
    if not available:
        pytest.skip(f"no {backend} runtime here: {why}")
    bundles = tiny_bundles()
    exported = bundles.bundle(backend, "fp32")
    named = CACHE / f"bench-{bundles.digest}" / f"tiny-{backend}-fp32"
    if not named.is_symlink():
        named.parent.mkdir(parents=True, exist_ok=True)
        named.symlink_to(exported, target_is_directory=True)
    return named


@pytest.fixture(scope="module")
def tiny_bundle() -> Path:
    return _tiny_bench_bundle("executorch")


@pytest.fixture(scope="module")
def tiny_onnx_bundle() -> Path:
    """The same model for ONNX Runtime: a bundle of another backend is one more row of the same run."""
    return _tiny_bench_bundle("onnxruntime")


@pytest.fixture(scope="module")
def cpp_runner() -> Path:
    from bindings_cpp_build import BUILD, cmake_build

    return cmake_build(BUILD) / "moebius_edge_run"


@pytest.fixture(scope="module")
def bench_run(tiny_bundle, tiny_onnx_bundle, cpp_runner, tmp_path_factory):
    """The CLI run (in process): 2 timed steps after 1 warm-up, 1 PSNR sample, with a GPU reference file; the
    ExecuTorch bundle also through the C++ runner."""
    from edge_sdk.cli import main

    work = tmp_path_factory.mktemp("bench-out")
    gpu = work / "gpu.json"
    gpu.write_text(json.dumps(_gpu_document("tiny")))
    out = work / "out"
    code = main(["bench", str(tiny_bundle), str(tiny_onnx_bundle), "--steps", "2", "--warmup", "1", "--threads", "1", "--samples", "1",
                 "--gpu-reference", str(gpu), "--cpp-runner", str(cpp_runner), "--out", str(out)])
    assert code == 0
    return out, json.loads((out / "bench.json").read_text())


def _gpu_document(preset: str, reduced: bool = False) -> dict:
    """The shape benchmarks/gpu_reference.py writes (two rows: an unoptimized one and a deployable one)."""
    row = dict(fp32_lambda=False, inpaint_ms=None, eps_rel_err=0.0, latent_rel_err=0.0, peak_memory_mb=None, error=None)
    return {
        "device": "NVIDIA H100", "device_type": "cuda", "preset": preset, "reduced": reduced, "steps_run": 2,
        "rows": [
            {**row, "graphs": "unoptimized", "dtype": "fp32", "mode": "eager", "step_ms": 2.0},
            {**row, "graphs": "optimized", "dtype": "fp16", "fp32_lambda": True, "mode": "cuda-graph", "step_ms": 4.0},
            {**row, "graphs": "optimized", "dtype": "fp16", "mode": "compile", "step_ms": 1.0},  # not deployable: no fp32 islands
            {**row, "graphs": "optimized", "dtype": "bf16", "fp32_lambda": True, "mode": "eager", "step_ms": None, "error": "OOM"},
        ],
    }


def test_bench_json_follows_the_schema_and_the_numbers_hang_together(bench_run, tiny_bundle):
    out, result = bench_run
    validate(result)
    assert result["schema_version"] == 1
    assert result["model"]["name"] == "tiny" and result["model"]["timesteps"] == json.loads((tiny_bundle / "manifest.json").read_text())["timesteps"]
    entry, cpp, onnx = result["bundles"]
    reference = result["reference"]
    assert entry["name"] == "tiny-executorch-fp32" and entry["backend"] == "executorch" and reference["backend"] == "pytorch"
    assert [row["runner"] for row in (reference, entry, cpp, onnx)] == ["python", "python", "cpp", "python"]
    assert cpp["name"] == entry["name"] and onnx["backend"] == "onnxruntime" and onnx["name"] == "tiny-onnxruntime-fp32"
    for row in (entry, reference, onnx):
        step = row["step"]
        assert step["count"] == 2
        assert 0 < step["min_ms"] <= step["p50_ms"] <= step["p90_ms"]
        assert row["end_to_end_s"] > 0 and row["load_s"] > 0
        # A child process that loaded a model and ran it holds more than the bare interpreter did.
        assert row["peak_rss_mb"] > row["baseline_rss_mb"] > 0
        assert row["threads"]["requested"] == 1
    assert entry["threads"]["runtime"] == reference["threads"]["runtime"] == 1  # ONNX Runtime does not report its own
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert entry["size_bytes"] == sum(r["bytes"] for r in manifest["files"].values())
    # The ratios are the quotients of the recorded medians.
    assert entry["ratios"]["step_speedup_vs_eager"] == pytest.approx(reference["step"]["p50_ms"] / entry["step"]["p50_ms"], rel=1e-2)
    assert reference["ratios"]["step_speedup_vs_eager"] == pytest.approx(1.0)
    # GPU: the fastest deployable row (optimized fp16 with fp32 λ islands, 4 ms), not the faster undeployable ones.
    gpu = result["gpu_reference"]
    assert gpu["row"] == {"graphs": "optimized", "dtype": "fp16", "fp32_lambda": True, "mode": "cuda-graph"} and gpu["step_ms"] == 4.0
    assert entry["ratios"]["step_vs_gpu"] == pytest.approx(entry["step"]["p50_ms"] / 4.0, rel=1e-2)
    # An fp32 ExecuTorch bundle reproduces the fp32 reference pipeline closely (optimized vs official graphs).
    quality = entry["quality"]
    assert len(quality["samples"]) == 1
    assert quality["samples"][0]["identical"] or quality["psnr_hole_db"] > 35.0
    assert entry["end_to_end_measured"] and reference["end_to_end_measured"]
    assert entry["test_vector_error"]["step"] < 1e-3  # fp32 ExecuTorch vs the fp32 graphs, measured at export
    assert onnx["quality"]["samples"][0]["identical"] or onnx["quality"]["psnr_hole_db"] > 35.0
    assert result["host"]["cpu"] and result["host"]["logical_cores"] >= 1


def test_bench_has_the_cpp_runner_row(bench_run):
    """moebius_edge_run's own process: every baked step timed once after a warm-up inpaint, its own peak memory, and
    the first sample inpainted with the Python pipeline's noise, so its PSNR is the Python row's within a grey level."""
    _, result = bench_run
    python, cpp = result["bundles"][:2]
    assert cpp["step"]["count"] == cpp["steps_run"] == 2 and cpp["encode"]["count"] == cpp["decode"]["count"] == 1
    assert 0 < cpp["step"]["min_ms"] <= cpp["step"]["p50_ms"] and cpp["end_to_end_measured"]
    total = cpp["encode"]["p50_ms"] + sum([cpp["step"]["p50_ms"]] * 2) + cpp["decode"]["p50_ms"]
    assert cpp["end_to_end_s"] * 1000 >= 0.9 * total  # the whole call holds its stages
    assert cpp["peak_rss_mb"] > cpp["baseline_rss_mb"] > 0 and cpp["load_s"] > 0
    assert cpp["peak_rss_mb"] < python["peak_rss_mb"]  # no Python or torch in the process
    assert cpp["threads"] == {"requested": 1, "runtime": 1}
    assert cpp["ratios"]["step_speedup_vs_eager"] > 0
    (sample,) = cpp["quality"]["samples"]
    (python_sample,) = python["quality"]["samples"]
    assert sample["sample"] == python_sample["sample"]
    if not python_sample["identical"]:
        assert sample["psnr_hole_db"] == pytest.approx(python_sample["psnr_hole_db"], abs=1.0)


def test_bench_without_a_cpp_runner_says_so(monkeypatch, tmp_path):
    from edge_sdk.bench import native_runner

    monkeypatch.setattr(native_runner, "__file__", str(tmp_path / "edge_sdk" / "bench" / "native_runner.py"))
    runner, note = native_runner.find_runner(None)
    assert runner is None and "moebius_edge_run is not built" in note and "--cpp-runner" in note


def test_bench_writes_the_table_and_the_plot(bench_run):
    out, result = bench_run
    from edge_sdk.bench.report_markdown import COLUMNS

    markdown = (out / "bench.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| bundle"))
    assert [c.strip() for c in header.strip("|").split("|")] == list(COLUMNS)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| bundle")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "pytorch-eager-fp32", "tiny-executorch-fp32", "tiny-executorch-fp32 (C++ runner)", "tiny-onnxruntime-fp32"]
    assert result["host"]["cpu"] in markdown
    png = (out / "bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_committed_schema_file_is_the_schema():
    assert (REPO / "benchmarks" / "bench_schema.json").read_text() == schema_text()


def test_schema_rejects_a_document_without_its_version(bench_run):
    _, result = bench_run
    broken = json.loads(json.dumps(result))
    del broken["schema_version"]
    with pytest.raises(BenchSchemaError, match="schema_version"):
        validate(broken)
    broken = json.loads(json.dumps(result))
    broken["bundles"][0]["step"]["p50_ms"] = "fast"
    with pytest.raises(BenchSchemaError, match="bundles/0/step/p50_ms"):
        validate(broken)


def test_percentiles_interpolate_between_ranks():
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 90) == pytest.approx(4.6)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    stats = LatencyStats.from_seconds([0.001, 0.003, 0.002])
    assert (stats.p50_ms, stats.min_ms, stats.count) == (pytest.approx(2.0), pytest.approx(1.0), 3)
    assert math.isclose(stats.mean_ms, 2.0)


def test_gpu_reference_of_another_model_gives_no_ratio(tmp_path):
    from edge_sdk.bench.gpu_reference_file import GPUReferenceError, read_gpu_reference

    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(_gpu_document("moebius-0.2b")))
    summary = read_gpu_reference(path, "tiny")
    assert not summary["comparable"] and "moebius-0.2b" in summary["note"]
    path.write_text(json.dumps(_gpu_document("tiny", reduced=True)))
    assert not read_gpu_reference(path, "tiny")["comparable"]
    path.write_text("{not json")
    with pytest.raises(GPUReferenceError, match="not readable JSON"):
        read_gpu_reference(path, "tiny")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}"], "bundle not found"),
        (["{bundle}", "--steps", "0"], "--steps must be at least 1"),
        (["{bundle}", "--threads", "0"], "--threads must be at least 1"),
        (["{bundle}", "--gpu-reference", "{missing}.json"], "GPU reference not found"),
        (["{bundle}", "--cpp-runner", "{missing}"], "is not an executable file"),
    ],
)
def test_user_mistakes_end_in_one_line_and_exit_2(arguments, message, tmp_path, capsys):
    from edge_sdk.cli import main

    bundle = tmp_path / "bundle"  # never read: settings and the GPU file are checked before any bundle
    bundle.mkdir()
    missing = tmp_path / "nothing-here"
    argv = ["bench", *[a.format(bundle=bundle, missing=missing) for a in arguments], "--out", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_probe_child_reports_its_own_peak_memory_not_its_parents():
    import subprocess
    import sys

    import numpy as np

    from edge_sdk.bench.memory import current_rss_mb, peak_rss_mb

    ballast = np.ones(2**28 // 8 * 6)  # 1.5 GiB resident in this process while the child starts
    probe = "from edge_sdk.bench.memory import peak_rss_mb; print(peak_rss_mb())"
    child_peak = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert current_rss_mb() > 1500 and peak_rss_mb() > 1500
    # A Python child that imports the probe module stays far below the parent's 1.5 GiB.
    assert child_peak < 600, child_peak
    del ballast


def test_bundles_of_one_preset_share_a_reference_whether_or_not_they_record_its_config():
    """`moebius-edge export` records the preset's config in model_source, benchmarks/bundle_sizes.py only its name:
    the same model either way; another preset is another model."""
    from types import SimpleNamespace

    from edge_sdk.bench.reference import model_key
    from edge_sdk.config import resolve_config

    def manifest(name, source):
        return SimpleNamespace(model_name=name, source=source, image_size=512, timesteps=[950, 0], strength=1.0, guidance_scale=2.5)

    named = model_key(manifest("tiny", {"name": "tiny", "random_weights": True}))
    recorded = model_key(manifest("tiny", {"name": "tiny", "config": resolve_config("tiny").to_dict()}))
    assert named == recorded
    assert model_key(manifest("nano", {"name": "nano"}))["config"] != named["config"]
