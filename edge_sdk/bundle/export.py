"""Exporting a bundle: the backend writes its graphs into a temporary directory, the test vector and the
manifest follow, and the directory is renamed into place only when everything succeeded."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import torch

from edge_sdk.backends.base import ProgramCache, quiet
from edge_sdk.bundle.files import file_records, listed_files, publishing_directory
from edge_sdk.bundle.manifest import Bundle, Manifest, read_bundle, utc_now
from edge_sdk.bundle.known_answers import TEST_VECTOR_FILE, make_test_vector, run_test_vector, save_test_vector, tolerances
from edge_sdk.deploy.graph_contract import GRAPH_NAMES, graph_signatures
from edge_sdk.deploy.vae_precision import vae_graph_precisions, vae_precision_name


RECIPE_FILE = "recipe.json"


def export_bundle(
    graphs,
    backend: str,
    precision: str,
    out_dir,
    *,
    vae_precision: Optional[str] = None,
    recipe=None,
    predicted_quality: Optional[dict] = None,
    calibration_samples=None,
    model: Optional[dict] = None,
    programs: Optional[ProgramCache] = None,
    progress=quiet,
    measure: bool = True,
) -> Bundle:
    """Export `graphs` (a DeployGraphs) as a bundle directory at `out_dir`; returns the written Bundle.

    `vae_precision` is that of the encode and decode graphs, one for both or "ENCODE/DECODE" (None: the
    backend's default for `precision`).
    `recipe` (an `edge_sdk.calibration.recipe.Recipe`) is required for int8; `predicted_quality` is what its
    calibration report predicted (see `bundle.calibrate.prediction_summary`). `model` describes where the
    weights came from (see `manifest.model_description`). With `measure`, a backend whose runtime exists
    here runs the test vector before the bundle is published and the errors go into the manifest, and an
    int8 VAE's drift on held-out photos too (`edge_sdk.calibration.vae`).
    """
    from edge_sdk.backends import get_backend

    chosen = get_backend(backend)
    chosen.check_export(precision, vae_precision, graphs.decode_tiling)
    vae_precision = chosen.vae_precision(precision, vae_precision)
    out_dir = Path(out_dir)
    programs = programs or ProgramCache(graphs)
    if programs.graphs is not graphs:
        raise ValueError("the ProgramCache was made for other deploy graphs (a tiled decode is another graphs object)")
    started = time.perf_counter()
    progress("test vector: running the fp32 reference graphs")
    vector = make_test_vector(graphs)
    with publishing_directory(out_dir) as staging:
        result = chosen.export(
            graphs, precision, recipe, staging, programs=programs, calibration_samples=calibration_samples,
            vae_precision=vae_precision, progress=progress,
        )
        save_test_vector(vector, staging / TEST_VECTOR_FILE)
        extra = list(result.extra_files)
        if recipe is not None:
            # The recipe travels with the bundle: which layers are int8, their ranges, and the data it came from.
            (staging / RECIPE_FILE).write_text(json.dumps(recipe.to_dict(), indent=2) + "\n", encoding="utf-8")
            extra.append(RECIPE_FILE)
        manifest = _manifest(graphs, chosen, precision, result, model or {"name": "custom"}, predicted_quality)
        if graphs.decode_tiling is not None:
            progress("tiled decode: measuring the seam error (fp32, tile by tile against whole) on held-out photos")
            manifest.decode_tiling = decode_tiling_record(graphs)
        measured = None
        if measure and chosen.runtime_available()[0]:
            progress("test vector: running the exported graphs")
            runner = chosen.open(Bundle(path=staging, manifest=manifest))
            measured = run_test_vector(runner, vector)
            if "int8" in vae_graph_precisions(vae_precision).values():
                from edge_sdk.calibration.vae import vae_drift

                progress("int8 VAE: measuring its drift from fp32 on held-out photos")
                manifest.vae_drift = {**vae_drift(graphs, runner.encode, runner.decode), "measured_with": f"{chosen.name} runtime"}
            del runner
        manifest.test_vector.update(
            tolerance=tolerances(result.graph_precisions, measured),
            measured=measured,
        )
        _add_file_records(manifest, staging, result, list(result.files.values()) + extra + [TEST_VECTOR_FILE])
        manifest.export_seconds = {
            **{f"torch_export_{k}": round(v, 2) for k, v in programs.seconds.items()},
            **{k: round(v, 2) for k, v in result.seconds.items()},
            "total": round(time.perf_counter() - started, 2),
        }
        manifest.write(staging)
    progress(f"wrote {out_dir}")
    return read_bundle(out_dir, verify_files=False)


def _manifest(graphs, chosen, precision: str, result, model: dict, predicted_quality: Optional[dict]) -> Manifest:
    """The manifest before the test vector's errors and the file records are added."""
    from edge_sdk import __version__

    signatures = graph_signatures(graphs)
    schedule = graphs.schedule.to_dict()
    return Manifest(
        backend=chosen.name,
        precision=precision,
        vae_precision=vae_precision_name(result.graph_precisions["encode"], result.graph_precisions["decode"]),
        model=model.get("name", "custom"),
        model_source=model,
        image_size=graphs.config.image_size,
        latent_size=graphs.config.sample_size,
        latent_channels=graphs.encode.latent_channels,
        steps=schedule["steps"],
        strength=schedule["strength"],
        guidance_scale=graphs.guidance_scale,
        timesteps=schedule["timesteps"],
        schedule=schedule,
        graphs={
            name: {"file": result.files[name], "precision": result.graph_precisions[name], **signatures[name]}
            for name in GRAPH_NAMES
        },
        test_vector={"file": TEST_VECTOR_FILE},
        calibration=predicted_quality,
        backend_details=result.details,
        sdk_version=__version__,
        toolchain=chosen.toolchain_versions(),
        created=utc_now(),
    )


def decode_tiling_record(graphs) -> dict:
    """The manifest's `decode_tiling`: the tiling and its seam error, the fp32 decode graph run tile by tile
    against whole on the held-out photos' latents (the worst photo's PSNR; runtime precision adds its own)."""
    from edge_sdk.calibration.vae import held_out_photos
    from edge_sdk.image_metrics import psnr

    tiling = graphs.decode_tiling
    held_out = held_out_photos(graphs)
    with torch.no_grad():
        seam = min(psnr(graphs.decode_image(photo.latents), photo.decoded) for photo in held_out)
    return {
        **tiling.to_dict(),
        "tiles": len(tiling.origins(graphs.config.sample_size)) ** 2,
        "seam_psnr_db": round(seam, 2),
        "measured_on": f"{len(held_out)} held-out photos' latents, fp32 deploy graphs",
    }


def _add_file_records(manifest: Manifest, staging: Path, result, entries: list[str]) -> None:
    """Every file's size and sha256, and each single-file graph's sha256 beside its entry."""
    manifest.files = file_records(staging, listed_files(staging, entries))
    for name in GRAPH_NAMES:
        record = manifest.files.get(result.files[name])
        if record is not None:  # a single-file graph (a directory graph's files are listed one by one)
            manifest.graphs[name]["sha256"] = record["sha256"]
