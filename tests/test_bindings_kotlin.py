"""The Kotlin core of the Android wrapper on the host JVM, against the C ABI called directly.

The JNI glue is built for the host against the JDK's jni.h (libmoebius_edge_jni, in the shared CMake build
build/bindings-cpp); kotlinc compiles the core (bindings/cpp/android/src/main, without the Android adapter
android/Bitmaps.kt, which needs the Android SDK) and the host check once per source change into
build/bindings-kotlin. One JVM run opens the tiny fp32 and int8 ExecuTorch bundles; a Python subprocess makes
the same calls through ctypes (tests/kotlin_check_reference.py) and everything is compared exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bindings_bundles import REPO, corrupted_copy, tiny_bundle
from bindings_cpp_build import BUILD, cmake_build

ANDROID = REPO / "bindings" / "cpp" / "android"
KOTLIN_BUILD = REPO / "build" / "bindings-kotlin"
SEED = 7
EXPECTED_CODES = {  # case → the C ABI's moebius_status
    "missing_bundle": 2, "corrupt_bundle": 5, "short_rgba": 1, "short_mask": 1, "short_noise": 1, "wrong_image_size": 6,
    "short_image_tensor": 1, "short_x": 1, "step_index_out_of_range": 1, "short_decode_x": 1,
    "closed_engine_inpaint": 1, "closed_engine_timings": 1, "short_paste_mask": 1,
}


def _kotlin_sources() -> list[Path]:
    core = [path for path in sorted((ANDROID / "src" / "main" / "kotlin").rglob("*.kt")) if "android" not in path.parent.name]
    return core + sorted((ANDROID / "hostTest").rglob("*.kt"))


@pytest.fixture(scope="module")
def host_check_jar() -> Path:
    """kotlinc's jar of the core and the host check (with the Kotlin runtime), rebuilt only when a source changed."""
    for tool in ("kotlinc", "java", "javac"):  # javac: a JDK, whose jni.h the glue is built against
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (bindings/setup.sh installs Debian's kotlin and default-jdk-headless with apt-get when it can)")
    sources = _kotlin_sources()
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    jar, stamp = KOTLIN_BUILD / "host-check.jar", KOTLIN_BUILD / "host-check.sha256"
    if not (jar.is_file() and stamp.is_file() and stamp.read_text() == digest):
        KOTLIN_BUILD.mkdir(parents=True, exist_ok=True)
        partial = KOTLIN_BUILD / "host-check.partial.jar"  # kotlinc writes a folder unless -d ends in .jar
        compiled = subprocess.run(
            ["kotlinc", *map(str, sources), "-include-runtime", "-d", str(partial)], capture_output=True, text=True, timeout=900
        )
        assert compiled.returncode == 0, compiled.stdout[-3000:] + compiled.stderr[-3000:]
        os.replace(partial, jar)
        stamp.write_text(digest)
    return jar


@pytest.fixture(scope="module")
def jni_build() -> Path:
    return cmake_build(BUILD, "-DMOEBIUS_BUILD_JNI=ON")


def _conformance_file(bundle: Path, name: str) -> Path:
    index = json.loads((bundle / "conformance" / "vectors.json").read_text())["tensors"][name]
    return bundle / "conformance" / index["file"]


@pytest.fixture(scope="module")
def runs(host_check_jar, jni_build, tmp_path_factory) -> dict:
    """Runs the host check on the JVM and the same calls on the C ABI; returns both sides' results."""
    fp32, int8 = tiny_bundle("executorch", "fp32"), tiny_bundle("executorch", "int8")
    work = tmp_path_factory.mktemp("kotlin")
    config = {
        "bundles": "fp32,int8", "fp32.dir": fp32, "int8.dir": int8, "error_bundle": "fp32", "seed": SEED,
        "image": _conformance_file(fp32, "inpaint.image"), "mask": _conformance_file(fp32, "inpaint.mask"),
        "noise": _conformance_file(fp32, "inpaint.noise"),
        "missing_bundle": work / "no-such-bundle", "corrupt_bundle": corrupted_copy(fp32, work / "corrupt", ".pte"),
    }
    (work / "config.properties").write_text("".join(f"{key}={value}\n" for key, value in config.items()))
    kotlin, reference = work / "kotlin", work / "reference"
    kotlin.mkdir()
    reference.mkdir()
    jvm = subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", f"-Djava.library.path={jni_build}", "-cp", str(host_check_jar),
         "ai.moebius.edge.HostCheckKt", str(work / "config.properties"), str(kotlin)],
        capture_output=True, text=True, timeout=900,
    )
    assert jvm.returncode == 0, jvm.stdout[-3000:] + jvm.stderr[-5000:]
    direct = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kotlin_check_reference.py")), str(jni_build / "libmoebius_edge.so"),
         str(work / "config.properties"), str(reference)],
        capture_output=True, text=True, timeout=900,
    )
    assert direct.returncode == 0, direct.stdout[-3000:] + direct.stderr[-5000:]
    report = dict(line.split("=", 1) for line in (kotlin / "report.txt").read_text(encoding="utf-8").splitlines())
    return {"kotlin": kotlin, "reference": reference, "report": report,
            "errors": json.loads((reference / "errors.json").read_text()), "bundles": {"fp32": fp32, "int8": int8}}


def _picture(path: Path) -> np.ndarray:
    return np.fromfile(path, np.uint8)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_kotlin_inpaint_is_the_c_abi_bit_for_bit(runs, precision):
    kotlin, reference = runs["kotlin"], runs["reference"]
    image = _picture(_conformance_file(runs["bundles"]["fp32"], "inpaint.image"))
    # The conformance sample with its recorded noise, through MoebiusEdge.inpaint (one C ABI call).
    with_noise = _picture(kotlin / f"{precision}.noise.rgba")
    assert with_noise.size == image.size and np.array_equal(with_noise, _picture(reference / f"{precision}.noise.rgba"))
    assert (with_noise[3::4] == 255).all() and not np.array_equal(with_noise, image)
    # Seeded, through the loop driven from Kotlin (encode, step × n with the callback, decode, paste-back).
    stepwise = _picture(kotlin / f"{precision}.seeded_stepwise.rgba")
    assert np.array_equal(stepwise, _picture(reference / f"{precision}.seeded.rgba"))
    assert not np.array_equal(stepwise, with_noise)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_kotlin_info_callback_and_timings(runs, precision):
    report = runs["report"]
    vectors = json.loads((runs["bundles"][precision] / "conformance" / "vectors.json").read_text())
    steps = vectors["steps"]
    assert report[f"{precision}.info"] == f"512,64,4,{steps},executorch,{precision},tiny"
    assert report[f"{precision}.callbacks"] == ",".join(f"{i}/{steps}/true" for i in range(1, steps + 1))
    encode, denoise, decode, total, timed_steps = report[f"{precision}.timings"].split(",")
    assert int(timed_steps) == steps and all(float(value) > 0 for value in (encode, denoise, decode))
    assert float(total) >= float(encode) + float(denoise) + float(decode)
    step_times = [float(value) for value in report[f"{precision}.step_times"].split(",")]
    assert len(step_times) == steps and all(value > 0 for value in step_times)


def test_kotlin_errors_carry_the_c_abi_status_and_message(runs):
    report, errors = runs["report"], runs["errors"]
    assert set(errors) == set(EXPECTED_CODES)
    for case, code in EXPECTED_CODES.items():
        assert report[f"error.{case}"] == errors[case], case
        assert errors[case].split("|")[0] == str(code), (case, errors[case])
    assert errors["short_rgba"].endswith("rgba has 1048575 bytes, this call needs 1048576")
    assert "no-such-bundle" in errors["missing_bundle"] and "SHA-256" in errors["corrupt_bundle"]
    assert errors["closed_engine_inpaint"] == "1|MOEBIUS_ERROR_INVALID_ARGUMENT|engine is NULL"
    # The Kotlin-driven loop reads the arrays itself: the same code and wording before any native call.
    assert report["error.stepwise_short_rgba"] == errors["short_rgba"]
    assert report["error.stepwise_short_noise"] == "1|MOEBIUS_ERROR_INVALID_ARGUMENT|noise has 10 values, the model needs 16384"


def test_kotlin_seeded_noise_and_abi_version(runs):
    assert runs["report"]["abi_version"] == "2"
    assert (runs["kotlin"] / "seeded_noise.f32").read_bytes() == (runs["reference"] / "seeded_noise.f32").read_bytes()
