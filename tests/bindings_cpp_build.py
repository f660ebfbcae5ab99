"""CMake builds of the C++ runtime (bindings/cpp) against the pip ExecuTorch, shared by the bindings' tests.

Builds are cached under build/ (bindings-cpp, bindings-cpp-asan), so a rerun only recompiles what changed.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bindings_bundles import REPO

SOURCE = REPO / "bindings" / "cpp"
BUILD = REPO / "build" / "bindings-cpp"
ASAN_BUILD = REPO / "build" / "bindings-cpp-asan"


def _cached_options(build_dir: Path) -> dict[str, str]:
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        return {}
    options = {}
    for line in cache.read_text().splitlines():
        name, _, value = line.partition("=")
        if value and ":" in name and not line.startswith(("//", "#")):
            options[name.split(":")[0]] = value
    return options


def cmake_build(build_dir: Path, *options: str, target: str | None = None) -> Path:
    """Configures `build_dir` (again only when one of `options`, `-DNAME=VALUE`, differs from its cache) and builds."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake or a C++ compiler is missing (make test installs them with apt-get when it can)")
    cached = _cached_options(build_dir)
    wanted = dict(option[2:].split("=", 1) for option in options)
    if not cached or any(cached.get(name) != value for name, value in wanted.items()):
        generator = ["-G", "Ninja"] if shutil.which("ninja") and not cached else []
        configure = subprocess.run(
            ["cmake", "-S", str(SOURCE), "-B", str(build_dir), *generator, f"-DPython3_EXECUTABLE={sys.executable}", *options],
            capture_output=True,
            text=True,
        )
        assert configure.returncode == 0, configure.stdout[-2000:] + configure.stderr[-3000:]
    command = ["cmake", "--build", str(build_dir), "-j2", *(["--target", target] if target else [])]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    return build_dir
