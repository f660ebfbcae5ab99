"""The C++ runner's rows: `moebius_edge_run --bench` (bindings/cpp) on each ExecuTorch bundle, next to the Python rows.

Apps run the C++ library, not Python, so its latency and memory are what a phone sees. Each row is one child
process of the runner: it opens the bundle, inpaints the first sample once untimed and once timed, and reports
per-stage times and its own peak resident set. PSNR uses the samples the runner can take as they are: images
at the model's size whose hole plan is the whole image, inpainted with the noise the Python pipeline draws for
them (`--noise`), so the picture is comparable pixel for pixel with the reference pipeline's.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np
import torch
from PIL import Image

from edge_sdk.bench.quality import SEED, SampleQuality, psnr, summary
from edge_sdk.bench.stats import LatencyStats
from edge_sdk.errors import EdgeSDKError

RUNNER = "moebius_edge_run"
BACKENDS = ("executorch",)  # the C++ runtime runs XNNPACK-delegated ExecuTorch bundles
BUILD_HINT = "cmake -S bindings/cpp -B build/bindings-cpp -DPython3_EXECUTABLE=.venv/bin/python && cmake --build build/bindings-cpp"
TIMEOUT_S = 3600


class NativeRunnerError(EdgeSDKError):
    """The C++ runner is missing where it was asked for, or failed on a bundle."""


def find_runner(explicit: Optional[Path]) -> tuple[Optional[Path], Optional[str]]:
    """(the runner to use, None) or (None, why there are no C++ rows). An explicit path must be an executable."""
    if explicit is not None:
        explicit = Path(explicit)
        if not explicit.is_file() or not os.access(explicit, os.X_OK):
            raise NativeRunnerError(f"--cpp-runner {explicit} is not an executable file (build it: {BUILD_HINT})")
        return explicit, None
    # An editable install or a checkout: the CMake build folder the README and the tests use.
    built = Path(__file__).resolve().parents[2] / "build" / "bindings-cpp" / RUNNER
    if built.is_file() and os.access(built, os.X_OK):
        return built, None
    return None, f"no C++ runner rows: {RUNNER} is not built ({BUILD_HINT}, or pass --cpp-runner PATH)"


def runs_natively(bundle) -> bool:
    return bundle.backend in BACKENDS


def _comparable_samples(image_size: int, count: int) -> list[tuple[str, Path, Path]]:
    """The first `count` bundled samples whose model input is the picture itself (see the module docstring)."""
    from edge_sdk.imaging import load_image, load_mask
    from edge_sdk.regions import plan_crops
    from edge_sdk.samples import sample_pairs

    chosen = []
    for image_path, mask_path in sample_pairs()[:count]:
        picture = load_image(image_path)
        if picture.size != (image_size, image_size):
            continue
        crops = plan_crops(load_mask(mask_path, picture.size), image_size)
        if len(crops) == 1 and crops[0][0].as_tuple() == (0, 0, image_size, image_size):
            chosen.append((Path(image_path).stem, Path(image_path), Path(mask_path)))
    return chosen


def _python_noise(image_size: int) -> np.ndarray:
    """The noise `inpaint_any_size` draws for a picture's first (here: only) crop."""
    from edge_sdk.inpainting import crop_noise

    return crop_noise(torch.Generator().manual_seed(SEED), image_size).numpy().astype("<f4")


def _run(runner: Path, bundle: Path, image: Path, mask: Path, work: Path, noise: Path, threads: Optional[int], bench: int) -> tuple[np.ndarray, dict]:
    """(the output picture, the runner's JSON) of one runner process."""
    from edge_sdk.imaging import load_image, load_mask

    picture = load_image(image)
    Image.fromarray(np.asarray(picture.convert("RGB"))).save(work / "image.ppm")
    Image.fromarray(load_mask(mask, picture.size).astype(np.uint8) * 255).save(work / "mask.pgm")
    command = [str(runner), str(bundle), str(work / "image.ppm"), str(work / "mask.pgm"), str(work / "out.ppm"),
               "--noise", str(noise), "--bench", str(bench), "--json", str(work / "run.json")]
    if threads is not None:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise NativeRunnerError(f"{RUNNER} failed on {bundle.name} (exit {result.returncode}): {tail}")
    return np.asarray(Image.open(work / "out.ppm").convert("RGB")), json.loads((work / "run.json").read_text())


def measure(runner: Path, bundle, image_size: int, samples: int, threads: Optional[int], references: list, tick) -> dict:
    """{'report': the timed run's JSON, 'quality': PSNR summary or None, 'note': what was left out}."""
    chosen = _comparable_samples(image_size, max(samples, 1))
    if not chosen:
        raise NativeRunnerError(f"no bundled sample is {image_size}×{image_size} with a single crop: nothing the C++ runner can take")
    by_name = {name: (image, hole) for name, image, hole in references}
    qualities, report = [], None
    with tempfile.TemporaryDirectory(prefix="bench-cpp-") as folder:
        work = Path(folder)
        noise = work / "noise.bin"
        _python_noise(image_size).tofile(noise)
        for index, (name, image_path, mask_path) in enumerate(chosen):
            # The first sample's run is the timed one (one warm-up inpaint, then one timed); the others give PSNR.
            picture, run = _run(runner, bundle.path, image_path, mask_path, work, noise, threads, bench=1 if index == 0 else 0)
            report = report or run
            if samples and name in by_name:
                reference, hole = by_name[name]
                expected, hole = np.asarray(reference.convert("RGB")), hole.astype(bool)
                qualities.append(SampleQuality(name, psnr(picture, expected), psnr(picture, expected, hole)))
            tick()
    left_out = max(samples, 1) - len(chosen)
    note = f"{left_out} sample(s) not at the model's size left out of its PSNR" if samples and left_out else None
    return {"report": report, "quality": summary(qualities) if qualities else None, "note": note}


def latency(report: dict) -> tuple[SimpleNamespace, float]:
    """(encode / step / decode statistics like `measure_graphs`' result, end-to-end seconds) of the timed runs."""
    timed = [run for run in report["runs"] if not run["warmup"]]
    stats = lambda ms: LatencyStats.from_seconds([m / 1000.0 for m in ms])
    graphs = SimpleNamespace(
        encode=stats([run["encode_ms"] for run in timed]),
        step=stats([ms for run in timed for ms in run["step_ms"]]),
        decode=stats([run["decode_ms"] for run in timed]),
    )
    return graphs, sorted(run["total_ms"] for run in timed)[len(timed) // 2] / 1000.0
