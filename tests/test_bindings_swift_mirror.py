"""The C ABI calls of the Swift package, replayed in C under AddressSanitizer (no Swift toolchain installs here).

bindings/cpp/tests/swift_call_mirror.c makes every call swift/Sources/MoebiusEdge/MoebiusEdge.swift makes, with
the arguments it passes (each Swift array an exactly sized heap block), short arrays included; it is built in the
AddressSanitizer build that tests/test_bindings_cpp.py shares (build/bindings-cpp-asan).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bindings_bundles import REPO, tiny_bundle
from bindings_cpp_build import ASAN_BUILD, cmake_build

SWIFT_SOURCE = REPO / "bindings" / "cpp" / "swift" / "Sources" / "MoebiusEdge" / "MoebiusEdge.swift"
HEADER = REPO / "bindings" / "cpp" / "include" / "moebius_edge.h"
MIRROR_SOURCE = REPO / "bindings" / "cpp" / "tests" / "swift_call_mirror.c"


@pytest.fixture(scope="module")
def mirror() -> Path:
    build = cmake_build(ASAN_BUILD, "-DMOEBIUS_SANITIZE_ADDRESS=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo", target="moebius_swift_call_mirror")
    return build / "moebius_swift_call_mirror"


def test_swift_calls_pass_under_address_sanitizer(mirror, tmp_path):
    bundle = tiny_bundle("executorch", "fp32")
    env = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99"}
    result = subprocess.run([str(mirror), str(bundle), str(tmp_path / "no-such-bundle")], capture_output=True, text=True, env=env, timeout=900)
    print(result.stdout)
    assert "AddressSanitizer" not in result.stderr and "LeakSanitizer" not in result.stderr, result.stderr[-4000:]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    checks = int(result.stdout.strip().splitlines()[-1].split()[0])
    assert result.stdout.strip().endswith(f"{checks} checks, 0 failed") and checks >= 20


def test_mirror_covers_every_c_call_of_the_swift_package():
    """Each moebius_* function the Swift source calls is called by the mirror too (keeps the two in step)."""
    import re

    functions = set(re.findall(r"MOEBIUS_EDGE_API [^(]*?\b(moebius_[a-z_]+)\(", HEADER.read_text()))
    assert len(functions) == 14  # every function of ABI version 2
    called = lambda text: functions & set(re.findall(r"\b(moebius_[a-z_]+)\(", text))
    swift_calls = called(SWIFT_SOURCE.read_text())
    assert {"moebius_inpaint", "moebius_encode", "moebius_step", "moebius_decode", "moebius_paste_hole", "moebius_seeded_noise",
            "moebius_get_step_times", "moebius_abi_version"} <= swift_calls
    assert swift_calls - called(MIRROR_SOURCE.read_text()) == set()
