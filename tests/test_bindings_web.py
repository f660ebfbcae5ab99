"""The web runtime (bindings/web) in headless Chromium: conformance vectors, error codes and the demo page.

Chromium is Debian's (`make test` apt-installs it), driven by playwright-core with `executablePath`. One browser
session runs everything (bindings/web/test/run_browser_tests.mjs); the tests below judge its report.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bindings_bundles import REPO, corrupted_copy, tiny_bundle

WEB = REPO / "bindings" / "web"
OUTPUT = REPO / "build" / "test-output"
SAMPLE = REPO / "edge_sdk" / "samples" / "astronaut.jpg"
MIN_NODE = 20  # playwright-core 1.65

# Max |browser − Python| per vector. WASM kernels sum in another order than x86 ONNX Runtime: the VAE's
# GroupNorm over 512×512 maps (262k values per group) is where fp32 differs most.
TOLERANCE = {
    "fp32": {"encode.masked_latents": 5e-3, "encode.mask_latent": 0.0, "step.next_x": 1e-4, "decode.image": 1e-3},
    "int8": {"encode.masked_latents": 5e-3, "encode.mask_latent": 0.0, "step.next_x": 2e-2, "decode.image": 1e-2},
}
# The whole inpaint: the largest 8-bit difference, the share of values that differ at all, the mean difference.
# WebAssembly's int8 kernels round differently from ONNX Runtime's x86 ones (the step agrees within 1e-2, above);
# over the loop that moves a few pixels of the tiny random-weight model by up to ~20 levels (measured: 21,
# 9.8% of values differ, mean 0.23 levels).
INPAINT_TOLERANCE = {"fp32": (3, 0.01, 0.05), "int8": (32, 0.15, 0.5)}


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the web runtime's tests need Node.js >= 20")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(re.match(r"v(\d+)", version).group(1)) if re.match(r"v(\d+)", version) else 0
    if major < MIN_NODE:
        pytest.skip(f"node {version} is too old: playwright-core needs Node.js >= {MIN_NODE}")
    return node


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (make test installs Debian's chromium with apt-get when it can)")


def _built_package() -> None:
    if not (WEB / "node_modules" / "onnxruntime-web").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("bindings/web/node_modules is missing and npm is not installed")
        install = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, capture_output=True, text=True)
        assert install.returncode == 0, install.stderr[-3000:]
    build = subprocess.run([str(WEB / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], cwd=WEB, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:]


@pytest.fixture(scope="module")
def browser_report(tmp_path_factory) -> dict:
    """One browser session over every bundle this tree can export; per precision, why one is missing."""
    node, chromium = _node(), _chromium()
    _built_package()
    bundles, missing = {}, {}
    for precision in ("int8", "fp32"):
        try:
            bundles[precision] = tiny_bundle("onnx", precision)
        except pytest.skip.Exception as skipped:
            missing[precision] = ("skip", str(skipped))
        except RuntimeError as error:  # an export that crashes is a failure of that precision, not of the others
            missing[precision] = ("fail", str(error))
    if not bundles:
        pytest.skip("no ONNX bundle could be exported: " + "; ".join(f"{p}: {why}" for p, (_, why) in missing.items()))
    work = tmp_path_factory.mktemp("web")
    demo = "int8" if "int8" in bundles else "fp32"
    corrupt = corrupted_copy(bundles[demo], work / "corrupt", ".onnx")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    screenshot = OUTPUT / "web-demo.png"
    screenshot.unlink(missing_ok=True)
    command = [node, "test/run_browser_tests.mjs", "--chromium", chromium, "--errors", demo, "--corrupt", str(corrupt)]
    for name, folder in bundles.items():
        command += ["--bundle", f"{name}={folder}"]
    command += ["--demo", demo, "--sample", str(SAMPLE), "--screenshot", str(screenshot), "--json", str(work / "report.json")]
    result = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=900)
    assert result.returncode in (0, 1), result.stderr[-4000:]
    report = json.loads((work / "report.json").read_text())
    report["missing"], report["demo_bundle"] = missing, demo
    (OUTPUT / "web-report.json").write_text(json.dumps(report, indent=1))
    print(f"web report: {OUTPUT / 'web-report.json'}; demo screenshot: {screenshot}")
    return report


def _page(report: dict, name: str) -> dict:
    if name in report["missing"]:
        kind, why = report["missing"][name]
        (pytest.skip if kind == "skip" else pytest.fail)(f"no {name} ONNX bundle: {why[-2000:]}")
    page = report["conformance"][name]
    assert page["ok"], page.get("error", "") + "\n" + "\n".join(report["console"][-20:])
    return page["report"]


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_conformance_vectors_in_chromium(browser_report, precision):
    report = _page(browser_report, precision)
    print(precision, json.dumps(report["comparisons"]), json.dumps(report["inpaint"]), json.dumps(report["timings"]))
    assert report["precision"] == precision and report["executionProvider"] == "wasm"
    assert report["checksumsVerified"] and report["crossOriginIsolated"]
    for name, limit in TOLERANCE[precision].items():
        assert report["comparisons"][name]["maxAbsError"] <= limit, (name, report["comparisons"][name])
    largest, share, mean = INPAINT_TOLERANCE[precision]
    inpaint = report["inpaint"]
    assert inpaint["maxAbsDifference"] <= largest and inpaint["valuesDiffering"] <= share * inpaint["count"], inpaint
    assert inpaint["meanAbsDifference"] <= mean, inpaint
    assert report["paste"] == {"maxAbsDifference": 0, "valuesDiffering": 0}


def test_error_codes_in_chromium(browser_report):
    errors = _page(browser_report, browser_report["demo_bundle"])["errors"]
    for case in errors["cases"]:
        assert case["got"] == case["expected"], case
    assert {case["case"] for case in errors["cases"]} >= {"missing bundle", "corrupted graph", "wrong image size"}
    assert errors["emptyMaskUnchanged"]


def test_demo_page_inpaints_the_tiny_bundle(browser_report):
    demo = browser_report["demo"]
    print(f"demo on the {browser_report['demo_bundle']} bundle:\n{demo['steps']}")
    assert demo["status"] == "done", demo
    steps = re.findall(r"step +\d+/(\d+) +([\d.]+) ms", demo["steps"])
    assert steps and len(steps) == int(steps[0][0]) and all(float(ms) > 0 for _, ms in steps)
    assert demo["photoOpaqueFraction"] == 1.0  # the picked photo was drawn
    assert demo["paintedFraction"] > 0.005
    assert demo["paintedChangedFraction"] > 0.5  # the painted area was filled…
    assert demo["changedFarFromPaint"] == 0  # …and nothing away from it changed
    screenshot = Path(demo["screenshot"])
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000


def test_seeded_noise_is_the_cpp_runtimes(tmp_path):
    """Without caller noise both runtimes draw the same seeded noise, so a seed means the same start everywhere."""
    import ctypes

    import numpy as np

    library = REPO / "build" / "bindings-cpp" / "libmoebius_edge.so"
    if not library.is_file():
        pytest.skip("the C++ runtime is not built (tests/test_bindings_cpp.py builds it into build/bindings-cpp)")
    node = _node()
    _built_package()
    out = tmp_path / "noise.bin"
    script = (
        "import('./dist/src/seededNoise.js').then((m) => require('fs').writeFileSync("
        f"{json.dumps(str(out))}, Buffer.from(m.seededNormalNoise(12345, 16385).buffer)))"
    )
    result = subprocess.run([node, "-e", script], cwd=WEB, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    web = np.fromfile(out, dtype="<f4")
    cpp = np.zeros(16385, np.float32)
    ctypes.CDLL(str(library)).moebius_seeded_noise(ctypes.c_uint64(12345), cpp.ctypes.data_as(ctypes.c_void_p), cpp.size)
    assert np.abs(web - cpp).max() <= 1e-6 and abs(float(web.std()) - 1) < 0.03


def test_tiled_decode_manifest_is_refused(tmp_path):
    """The web runtime decodes the whole latent in one call, so a bundle whose decode graph takes tiles is refused."""
    node = _node()
    _built_package()
    manifest = {
        "format": "moebius-edge/bundle", "format_version": 1, "backend": "onnx", "precision": "fp32", "image_size": 64,
        "timesteps": [999, 499], "graphs": {name: {"file": f"{name}.onnx"} for name in ("encode", "step", "decode")},
    }
    script = (
        "import('./dist/src/manifest.js').then((m) => { for (const text of process.argv.slice(1)) {"
        " try { console.log(JSON.stringify({ ok: m.parseManifest(text).imageSize })); }"
        " catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } } })"
    )
    cases = [manifest, {**manifest, "decode_tiling": None}, {**manifest, "decode_tiling": {"tile": 6, "overlap": 2}}]
    result = subprocess.run([node, "-e", script, *map(json.dumps, cases)], cwd=WEB, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    untiled, null_tiling, tiled = map(json.loads, result.stdout.splitlines())
    assert untiled == null_tiling == {"ok": 64}
    assert tiled == {
        "code": "UNSUPPORTED", "message": "tiled decode bundles are not supported by the web runtime; export without --decode-tile",
    }
