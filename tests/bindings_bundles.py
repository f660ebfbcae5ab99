"""Tiny bundles with conformance vectors for the bindings' tests, exported once and cached under build/.

A bundle is exported with the real command line (`moebius-edge export`, then `moebius-edge conformance`), into
build/test-bundles/<backend>-<precision>-<digest>, where the digest covers the exporting code: a code change
exports again, an unchanged tree reuses the folder (export takes minutes on 2 cores).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "build" / "test-bundles"
STEPS = 4  # enough to exercise the loop; 20 would only make every replay 5x slower
SOURCES = ("edge_sdk", "backends", "calibration")


def _source_digest() -> str:
    digest = hashlib.sha256()
    for root in SOURCES:
        for path in sorted((REPO / root).rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _run(args: list[str], what: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "edge_sdk.cli", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _skip_unless_exportable(backend: str, precision: str) -> None:
    """Skips (with the reason) when this tree cannot export or run such a bundle yet."""
    import argparse

    import edge_sdk
    from edge_sdk.cli import build_parser

    if not hasattr(edge_sdk, "load"):
        pytest.skip("edge_sdk.load (the bundle runner) is not in this tree yet: no bundle to replay")
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    if "export" not in commands or "conformance" not in commands:
        pytest.skip("`moebius-edge export` is not in this tree yet: no bundle to replay")
    try:
        from edge_sdk.backends import get_backend

        chosen = get_backend(backend)
    except (ImportError, edge_sdk.EdgeSDKError) as error:
        pytest.skip(f"no {backend} backend in this tree yet ({error.__class__.__name__}: {error})")
    if precision not in chosen.precisions:
        pytest.skip(f"the {backend} backend exports {', '.join(chosen.precisions)}, not {precision}, in this tree")
    for check in (chosen.available, chosen.runtime_available):
        ok, why = check()
        if not ok:
            pytest.skip(f"{backend} bundles cannot be exported and run here: {why}")


def tiny_bundle(backend: str, precision: str) -> Path:
    """The cached tiny bundle for backend/precision, with conformance/; skips when this tree cannot export it."""
    _skip_unless_exportable(backend, precision)
    folder = CACHE / f"{backend}-{precision}-{_source_digest()}"
    if (folder / "conformance" / "vectors.json").is_file():
        return folder
    staging = folder.with_name(folder.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    _run(
        ["export", "--model", "tiny", "--backend", backend, "--precision", precision, "--steps", str(STEPS), "-o", str(staging)],
        f"export of a tiny {backend} {precision} bundle",
    )
    _run(["conformance", str(staging)], f"conformance vectors of the {backend} {precision} bundle")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    return folder


def corrupted_copy(bundle: Path, destination: Path, graph_suffix: str) -> Path:
    """A copy of `bundle` whose step graph has 64 bytes zeroed in the middle (its manifest digest no longer fits)."""
    shutil.copytree(bundle, destination)
    step = next(p for p in destination.iterdir() if p.name.startswith("step") and p.suffix == graph_suffix)
    data = bytearray(step.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    step.write_bytes(bytes(data))
    return destination
