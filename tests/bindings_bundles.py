"""Tiny bundles with conformance vectors for the bindings' tests.

The bundles are the ones the backend tests export (tests/backend_bundles.py: once per session and code version,
cached under build/test-bundles), so the bindings add no export of their own; `moebius-edge conformance`
writes their conformance/ folder once.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def skip_unless_exportable(backend: str, precision: str) -> None:
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
    """The session's shared tiny bundle (tests/backend_bundles.py) with conformance/ written into it once."""
    skip_unless_exportable(backend, precision)
    from backend_bundles import tiny_bundles

    from edge_sdk.cli import main

    try:
        folder = tiny_bundles().bundle(backend, precision)
    except Exception as error:  # an export that crashes fails the tests of this bundle, with the reason
        raise RuntimeError(f"export of a tiny {backend} {precision} bundle failed: {error.__class__.__name__}: {error}") from error
    if not (folder / "conformance" / "vectors.json").is_file():
        # The command line's own entry point, in-process (a subprocess would import torch again).
        if main(["conformance", str(folder)]) != 0:
            raise RuntimeError(f"moebius-edge conformance {folder} failed (its error is printed above)")
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


# tiny's latent is 64²: 28² tiles overlapping by 8 give origins 0, 20, 36 per axis (3×3 tiles): a middle tile with
# ramps on both sides and a last one flush with the edge (its overlap 16, wider than the ramp).
DECODE_TILING = {"tile": 28, "overlap": 8}


def tiled_tiny_bundle() -> Path:
    """A tiny fp32 ExecuTorch bundle whose decode graph takes latent tiles, with its conformance vectors (the
    Python runner's, which blends the tiles itself); cached per code version beside the other test bundles."""
    skip_unless_exportable("executorch", "fp32")
    from backend_bundles import CACHE, tiny_bundles

    from edge_sdk.bundle.export import export_bundle
    from edge_sdk.cli import main
    from edge_sdk.deploy.tiled_decode import DecodeTiling

    bundles = tiny_bundles()
    folder = CACHE / f"unit-executorch-fp32-tile{DECODE_TILING['tile']}x{DECODE_TILING['overlap']}-{bundles.digest}"
    if not (folder / "manifest.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        graphs = bundles.graphs.with_decode_tiling(DecodeTiling(**DECODE_TILING))
        # The untiled bundles' step lowering is reused: only the VAE graphs are exported again.
        export_bundle(graphs, "executorch", "fp32", folder, programs=bundles.programs.for_graphs(graphs), model={"name": "tiny", "random_weights": True})
    if not (folder / "conformance" / "vectors.json").is_file():
        assert main(["conformance", str(folder)]) == 0
    return folder
