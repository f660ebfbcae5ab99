"""The C++ runtime (bindings/cpp) built with CMake against the pip ExecuTorch, replaying the conformance vectors.

Builds are cached in build/bindings-cpp (and build/bindings-cpp-asan, tests/bindings_cpp_build.py), so a rerun only
recompiles what changed.
"""
from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import c_abi
from bindings_bundles import DECODE_TILING, corrupted_copy, tiled_tiny_bundle, tiny_bundle
from bindings_cpp_build import ASAN_BUILD, BUILD, SOURCE, cmake_build

FLOAT_VECTORS = ("encode.masked_latents", "encode.mask_latent", "step.next_x", "decode.image")
TOLERANCE = {"fp32": 1e-4, "int8": 1e-3}  # max |C++ − Python| on every float vector


@pytest.fixture(scope="module")
def build_dir() -> Path:
    return cmake_build(BUILD)


@pytest.fixture(scope="module")
def asan_build_dir() -> Path:
    return cmake_build(ASAN_BUILD, "-DMOEBIUS_SANITIZE_ADDRESS=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo")


@pytest.fixture(scope="module")
def fp32_bundle() -> Path:
    return tiny_bundle("executorch", "fp32")


@pytest.fixture(scope="module")
def int8_bundle() -> Path:
    return tiny_bundle("executorch", "int8")


def _run(tool: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


def _replay(build: Path, bundle: Path, env=None) -> dict:
    result = _run(build / "moebius_edge_conformance", bundle, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _check_report(report: dict, tolerance: float) -> None:
    for name in FLOAT_VECTORS:
        assert report[name]["max_abs_error"] <= tolerance, (name, report[name])
    # Same graphs, same kernels: a uint8 value may flip by one where a float sits on a truncation boundary.
    inpaint = report["inpaint.output"]
    assert inpaint["max_abs_difference"] <= 1, inpaint
    assert inpaint["values_differing"] <= 1e-3 * inpaint["count"], inpaint
    assert report["paste.output"] == {"max_abs_difference": 0, "values_differing": 0}


def test_fp32_bundle_matches_python(build_dir, fp32_bundle):
    report = _replay(build_dir, fp32_bundle)
    print(json.dumps(report, indent=1))
    assert report["precision"] == "fp32"
    _check_report(report, TOLERANCE["fp32"])


def test_int8_bundle_matches_python(build_dir, int8_bundle):
    report = _replay(build_dir, int8_bundle)
    print(json.dumps(report, indent=1))
    assert report["precision"] == "int8"
    _check_report(report, TOLERANCE["int8"])


@pytest.fixture(scope="module")
def tiled_bundle() -> Path:
    return tiled_tiny_bundle()


def test_tiled_decode_bundle_matches_python(build_dir, tiled_bundle):
    manifest = json.loads((tiled_bundle / "manifest.json").read_text())
    assert {key: manifest["decode_tiling"][key] for key in DECODE_TILING} == DECODE_TILING
    report = _replay(build_dir, tiled_bundle)
    print(json.dumps(report, indent=1))
    assert report["precision"] == "fp32"
    _check_report(report, TOLERANCE["fp32"])  # decode.image and the whole inpaint, both decoded tile by tile


def _open(library, bundle: Path) -> tuple[int, ctypes.c_void_p]:
    engine = ctypes.c_void_p()
    return library.moebius_open(str(bundle).encode(), 0, ctypes.byref(engine)), engine


def test_tiled_decode_manifest_errors(library, tiled_bundle, tmp_path):
    """Bad decode_tiling values are manifest errors at open; without decode_tiling the tile graph is refused by shape."""
    latent = _vector(tiled_bundle, "decode.x")
    image = np.zeros(3 * json.loads((tiled_bundle / "manifest.json").read_text())["image_size"] ** 2, np.float32)
    for index, (tiling, expected) in enumerate([
        ({"tile": 6, "overlap": 6}, "decode tiling needs 0 < overlap < tile < latent size (64); got tile 6, overlap 6"),
        ({"tile": 6, "overlap": 0}, "decode tiling needs 0 < overlap < tile < latent size (64); got tile 6, overlap 0"),
        ({"tile": 64, "overlap": 8}, "decode tiling needs 0 < overlap < tile < latent size (64); got tile 64, overlap 8"),
        ({"tile": "28", "overlap": 8}, "decode_tiling must be null or an object with integer 'tile' and 'overlap'"),
        (28, "decode_tiling must be null or an object with integer 'tile' and 'overlap'"),
        (None, None),
    ]):
        copy = tmp_path / f"case{index}"
        shutil.copytree(tiled_bundle, copy, ignore=shutil.ignore_patterns("conformance"))
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["decode_tiling"] = tiling
        (copy / "manifest.json").write_text(json.dumps(manifest))
        status, engine = _open(library, copy)
        if expected is not None:
            assert (status, engine.value) == (3, None), tiling  # MOEBIUS_ERROR_BAD_MANIFEST
            assert library.moebius_last_error() == f"manifest.json: {expected}".encode(), tiling
            continue
        # Untiled, the host passes the whole latent to a graph made for one tile: a clear error, not a wrong picture.
        assert status == 0, library.moebius_last_error()
        try:
            status = library.moebius_decode(engine, c_abi.pointer(latent), latent.size, c_abi.pointer(image), image.size)
            assert status == 4, status  # MOEBIUS_ERROR_UNSUPPORTED
            assert library.moebius_last_error() == b"decode input 0 has shape [1,4,28,28], the runtime passes [1,4,64,64]"
        finally:
            library.moebius_close(engine)


def _vector(bundle: Path, name: str) -> np.ndarray:
    index = json.loads((bundle / "conformance" / "vectors.json").read_text())["tensors"][name]
    return np.fromfile(bundle / "conformance" / index["file"], dtype=np.dtype(index["dtype"]).newbyteorder("<")).reshape(index["shape"])


def test_runner_writes_python_result_and_timings(build_dir, fp32_bundle, tmp_path):
    image, mask = _vector(fp32_bundle, "inpaint.image"), _vector(fp32_bundle, "inpaint.mask")
    Image.fromarray(image[..., :3]).save(tmp_path / "image.ppm")
    Image.fromarray(mask).save(tmp_path / "mask.pgm")
    noise = fp32_bundle / "conformance" / "inpaint.noise.bin"
    result = _run(
        build_dir / "moebius_edge_run", fp32_bundle, tmp_path / "image.ppm", tmp_path / "mask.pgm", tmp_path / "out.ppm",
        "--noise", noise, "--bench", 1, "--json", tmp_path / "timings.json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = np.asarray(Image.open(tmp_path / "out.ppm")).astype(int)
    expected = _vector(fp32_bundle, "inpaint.output")[..., :3].astype(int)
    assert np.abs(output - expected).max() <= 1
    timings = json.loads((tmp_path / "timings.json").read_text())
    print(json.dumps(timings["median_ms"]), "open", timings["open_ms"])
    steps = json.loads((fp32_bundle / "conformance" / "vectors.json").read_text())["steps"]
    assert timings["steps"] == steps and timings["timed_runs"] == 1 and timings["warmup_runs"] == 1
    assert [len(run["step_ms"]) for run in timings["runs"]] == [steps, steps]
    assert all(timings["median_ms"][stage] > 0 for stage in ("encode", "step", "decode", "total"))
    assert not list(tmp_path.glob("*.part"))

    # Without --noise the runner draws its own seeded noise: deterministic, and a different picture than Python's.
    for name in ("a.ppm", "b.ppm"):
        seeded = _run(build_dir / "moebius_edge_run", fp32_bundle, tmp_path / "image.ppm", tmp_path / "mask.pgm", tmp_path / name, "--seed", 7)
        assert seeded.returncode == 0, seeded.stderr[-2000:]
    a, b = np.asarray(Image.open(tmp_path / "a.ppm")), np.asarray(Image.open(tmp_path / "b.ppm"))
    assert np.array_equal(a, b) and not np.array_equal(a, output)
    far = _far_from_hole(mask)
    assert np.array_equal(a[far], image[..., :3][far])


def _far_from_hole(mask: np.ndarray, reach: int = 12) -> np.ndarray:
    from scipy import ndimage

    return ~ndimage.binary_dilation(mask >= 128, iterations=reach)


def _error_cases(tool_dir: Path, bundle: Path, work: Path, env=None) -> dict[str, tuple[int, str]]:
    """Runs the runner on broken inputs; returns {case: (exit code, stderr)}."""
    image, mask = _vector(bundle, "inpaint.image"), _vector(bundle, "inpaint.mask")
    work.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., :3]).save(work / "image.ppm")
    Image.fromarray(mask).save(work / "mask.pgm")
    Image.fromarray(image[::2, ::2, :3]).save(work / "small.ppm")
    Image.fromarray(mask[::2, ::2]).save(work / "small.pgm")

    corrupt = corrupted_copy(bundle, work / "corrupt", ".pte")
    truncated = work / "truncated"
    shutil.copytree(bundle, truncated)
    step = next(truncated.glob("step*.pte"))
    step.write_bytes(step.read_bytes()[: step.stat().st_size // 3])
    bad_json = work / "bad-json"
    shutil.copytree(bundle, bad_json)
    (bad_json / "manifest.json").write_text('{"format_version": 1, "backend": ')
    other_backend = work / "other-backend"
    shutil.copytree(bundle, other_backend)
    manifest = json.loads((other_backend / "manifest.json").read_text())
    manifest["backend"] = "onnx"
    (other_backend / "manifest.json").write_text(json.dumps(manifest))

    runner = tool_dir / "moebius_edge_run"
    cases = {
        "missing bundle": (work / "no-such-bundle", work / "image.ppm", work / "mask.pgm"),
        "corrupted graph": (corrupt, work / "image.ppm", work / "mask.pgm"),
        "truncated graph, checksums skipped": (truncated, work / "image.ppm", work / "mask.pgm", "--skip-checksums"),
        "manifest not JSON": (bad_json, work / "image.ppm", work / "mask.pgm"),
        "ONNX bundle": (other_backend, work / "image.ppm", work / "mask.pgm"),
        "wrong image size": (bundle, work / "small.ppm", work / "small.pgm"),
        "mask of another size": (bundle, work / "image.ppm", work / "small.pgm"),
    }
    results = {}
    for name, (folder, image_path, mask_path, *extra) in cases.items():
        result = _run(runner, folder, image_path, mask_path, work / f"{name.replace(' ', '_')}.ppm", *extra, env=env)
        results[name] = (result.returncode, result.stderr)
    return results


EXPECTED_ERRORS = {
    "missing bundle": "MOEBIUS_ERROR_NOT_FOUND",
    "corrupted graph": "MOEBIUS_ERROR_CORRUPT_BUNDLE",
    "truncated graph, checksums skipped": "MOEBIUS_ERROR_CORRUPT_BUNDLE",
    "manifest not JSON": "MOEBIUS_ERROR_BAD_MANIFEST",
    "ONNX bundle": "MOEBIUS_ERROR_UNSUPPORTED",
    "wrong image size": "MOEBIUS_ERROR_IMAGE_SIZE",
    "mask of another size": "they must match",
}


def test_bad_bundles_give_error_codes_not_crashes(build_dir, fp32_bundle, tmp_path):
    results = _error_cases(build_dir, fp32_bundle, tmp_path)
    for name, expected in EXPECTED_ERRORS.items():
        code, stderr = results[name]
        assert code == 2 and expected in stderr, (name, code, stderr[-1500:])
        assert len([line for line in stderr.splitlines() if "error:" in line]) == 1, stderr
    assert not list(tmp_path.glob("*.ppm.part"))


def test_address_sanitizer_run(asan_build_dir, fp32_bundle, tiled_bundle, tmp_path):
    """The conformance replays (the tiled decode's too) and every error path once under AddressSanitizer: no invalid
    access, no leak."""
    env = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99"}
    for bundle in (fp32_bundle, tiled_bundle):
        _check_report(_replay(asan_build_dir, bundle, env=env), TOLERANCE["fp32"])
    for name, (code, stderr) in _error_cases(asan_build_dir, fp32_bundle, tmp_path, env=env).items():
        assert "AddressSanitizer" not in stderr and "LeakSanitizer" not in stderr, (name, stderr[-3000:])
        assert code == 2 and EXPECTED_ERRORS[name] in stderr, (name, code, stderr[-1500:])


# The working buffers of one 512² VAE graph of the tiny model (XNNPACK's activations and operator buffers at image
# resolution): 150-270 MB measured here. The bounds below fail when weights are held more than twice (the mapped
# file and XNNPACK's packed copy) or when graphs loaded in turn stay resident.
WORKING_MB_PER_GRAPH = 320


def _runner_memory(build: Path, bundle: Path, work: Path, *flags) -> tuple[dict, np.ndarray]:
    image, mask = _vector(bundle, "inpaint.image"), _vector(bundle, "inpaint.mask")
    work.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., :3]).save(work / "image.ppm")
    Image.fromarray(mask).save(work / "mask.pgm")
    result = _run(build / "moebius_edge_run", bundle, work / "image.ppm", work / "mask.pgm", work / "out.ppm", "--threads", 1,
                  "--json", work / "run.json", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "memory: peak RSS" in result.stdout
    report = json.loads((work / "run.json").read_text())
    assert report["load_in_turn"] == ("--load-in-turn" in flags) and report["threads"] == 1
    return report["memory_mb"], np.asarray(Image.open(work / "out.ppm"))


def test_runner_peak_memory_is_bounded_by_the_bundle_and_lower_in_turn(build_dir, int8_bundle, tmp_path):
    default, picture = _runner_memory(build_dir, int8_bundle, tmp_path / "default")
    in_turn, in_turn_picture = _runner_memory(build_dir, int8_bundle, tmp_path / "in-turn", "--load-in-turn")
    print("default", default, "in turn", in_turn)
    graphs = {path.stem: path.stat().st_size / 2**20 for path in int8_bundle.glob("*.pte")}
    assert sorted(graphs) == ["decode", "encode", "step"]
    assert 0 < default["before_open"] < default["after_open"] < default["peak_rss"]
    # All three graphs resident: each one's weights at most twice, plus the two VAE graphs' working buffers.
    assert default["peak_rss"] <= default["before_open"] + 2 * sum(graphs.values()) + 2 * WORKING_MB_PER_GRAPH
    # In turn: the largest graph's weights at most twice and one VAE graph's working buffers.
    assert in_turn["peak_rss"] <= in_turn["before_open"] + 2 * max(graphs.values()) + WORKING_MB_PER_GRAPH
    # Without the encode and step graphs' weights. Not much more, since convolutions build their indirection
    # buffers per run in XNNPACK's workspace, which the VAE graphs share (171 against 150 MB here).
    assert in_turn["peak_rss"] < default["peak_rss"] - graphs["encode"] - graphs["step"]
    assert in_turn["after_open"] < default["after_open"]  # only the encode graph stays after open
    assert np.array_equal(picture, in_turn_picture)


def test_tiled_decode_does_not_raise_peak_memory(build_dir, fp32_bundle, tiled_bundle, tmp_path):
    """Graphs loaded in turn, the peak is the largest graph's working memory. For the tiny model that is now the
    encode graph's, whole or tiled (149 and 147 MB here), so the tiled decode must simply not add to it; that it
    lowers the decode's own memory is checked per phase in test_memory.py."""
    whole, _ = _runner_memory(build_dir, fp32_bundle, tmp_path / "whole", "--load-in-turn")
    tiled, _ = _runner_memory(build_dir, tiled_bundle, tmp_path / "tiled", "--load-in-turn")
    print("whole", whole, "tiled", tiled)
    assert tiled["peak_rss"] <= whole["peak_rss"] + 2


# --- the C ABI directly (no bundle needed) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(build_dir):
    return c_abi.load(build_dir / "libmoebius_edge.so")


def test_paste_hole_is_bit_exact_with_python(library):
    from edge_sdk.inpainting import paste_hole

    rng = np.random.default_rng(0)
    for height, width in [(1, 1), (3, 17), (40, 9), (64, 64), (120, 250), (257, 131)]:
        original = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        generated = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        hole = rng.random((height, width)) < 0.2
        expected = np.asarray(paste_hole(Image.fromarray(original), Image.fromarray(generated), hole))
        rgba = lambda rgb: np.ascontiguousarray(np.concatenate([rgb, np.full((height, width, 1), 255, np.uint8)], axis=-1))
        out = np.zeros((height, width, 4), np.uint8)
        mask = np.ascontiguousarray(hole.astype(np.uint8) * 255)
        before, after = rgba(original), rgba(generated)
        status = library.moebius_paste_hole(
            c_abi.pointer(before), before.size, c_abi.pointer(after), after.size, c_abi.pointer(mask), mask.size, width, height, c_abi.pointer(out), out.size
        )
        assert status == 0, library.moebius_last_error()
        assert np.array_equal(out[..., :3], expected), (height, width)
        assert (out[..., 3] == 255).all()


def test_seeded_noise_is_deterministic_standard_normal(library):
    draws = []
    for seed in (5, 5, 6):
        noise = np.zeros(200_001, np.float32)  # odd count: the last Box–Muller pair is cut in half
        assert library.moebius_seeded_noise(seed, c_abi.pointer(noise), noise.size) == 0
        draws.append(noise)
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])
    assert abs(draws[0].mean()) < 0.01 and abs(draws[0].std() - 1) < 0.01
    assert abs(np.mean(np.abs(draws[0]) > 1.96) - 0.05) < 0.003  # the tails of a normal, not just its moments


def test_c_abi_rejects_null_and_bad_arguments(library):
    engine = ctypes.c_void_p(1234)  # not NULL, so the test sees it cleared
    assert library.moebius_open(None, 0, ctypes.byref(engine)) == 1
    assert engine.value is None  # cleared on failure
    assert b"bundle_dir is NULL" in library.moebius_last_error()
    assert library.moebius_open(b"/nonexistent", 0, None) == 1
    assert library.moebius_open(b"/nonexistent", 0, ctypes.byref(engine)) == 2
    assert b"/nonexistent" in library.moebius_last_error()
    assert library.moebius_open(b"/nonexistent", 8, ctypes.byref(engine)) == 1  # unknown flag
    assert library.moebius_open(b"/nonexistent", 1 << 16, ctypes.byref(engine)) == 1  # above MOEBIUS_OPEN_THREADS' bits
    # MOEBIUS_OPEN_LOAD_IN_TURN | MOEBIUS_OPEN_THREADS(1) are known flags: the missing folder is what fails
    assert library.moebius_open(b"/nonexistent", 2 | (1 << 8), ctypes.byref(engine)) == 2
    assert library.moebius_get_info(None, None) == 1
    assert library.moebius_inpaint(None, None, 0, 0, 0, None, 0, None, 0, 0, None, 0) == 1
    assert library.moebius_status_name(6) == b"MOEBIUS_ERROR_IMAGE_SIZE"
    library.moebius_close(None)  # allowed


def test_c_abi_reports_its_version_and_short_buffers(library):
    assert library.moebius_abi_version() == 2
    header = (SOURCE / "include" / "moebius_edge.h").read_text()
    assert "#define MOEBIUS_EDGE_ABI_VERSION 2\n" in header
    # A buffer shorter than width*height*4 is refused before it is read (AddressSanitizer checks the same
    # through the Swift mirror, tests/test_bindings_swift_mirror.py).
    image, mask, out = np.zeros(16, np.uint8), np.zeros(4, np.uint8), np.zeros(16, np.uint8)
    assert library.moebius_paste_hole(c_abi.pointer(image), 16, c_abi.pointer(image), 15, c_abi.pointer(mask), 4, 2, 2, c_abi.pointer(out), 16) == 1
    assert library.moebius_last_error() == b"generated_rgba has 15 bytes, this call needs 16"
    assert library.moebius_paste_hole(c_abi.pointer(image), 16, c_abi.pointer(image), 16, c_abi.pointer(mask), 3, 2, 2, c_abi.pointer(out), 16) == 1
    assert library.moebius_last_error() == b"mask has 3 bytes, this call needs 4"
    assert library.moebius_paste_hole(c_abi.pointer(image), 16, c_abi.pointer(image), 16, c_abi.pointer(mask), 4, 2, 2, c_abi.pointer(out), 16) == 0
