"""`info BUNDLE`: the manifest in words, the size of every file and the delegation summary."""
from __future__ import annotations

import json

from edge_sdk.bundle.files import directory_size
from edge_sdk.bundle.manifest import read_bundle
from edge_sdk.deploy.graph_contract import GRAPH_NAMES


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def describe_bundle(path, as_json: bool = False) -> str:
    bundle = read_bundle(path, verify_files=False)
    manifest = bundle.manifest
    if as_json:
        return json.dumps(manifest.to_dict(), indent=2)
    lines = [
        f"bundle     {bundle.path}",
        f"backend    {manifest.backend} ({manifest.precision})  VAE {manifest.vae_precision}",
        f"model      {manifest.model}  image {manifest.image_size}²  steps {len(manifest.timesteps)}  "
        f"strength {manifest.strength}  guidance {manifest.guidance_scale}",
        f"created    {manifest.created}  SDK {manifest.sdk_version}  "
        + "  ".join(f"{k} {v}" for k, v in (manifest.toolchain or {}).items()),
        "graphs:",
    ]
    total = 0
    for name in GRAPH_NAMES:
        graph = manifest.graphs[name]
        size = directory_size(bundle.graph_path(name)) if bundle.graph_path(name).exists() else 0
        total += size
        shapes = ", ".join(f"{s['name']} {s['shape']}" for s in graph.get("inputs", []))
        lines.append(f"  {name:<7} {graph['file']:<22} {_megabytes(size):>12}  {graph.get('precision', '')}  ({shapes})")
    other = sum(r["bytes"] for rel, r in manifest.files.items() if not any(rel.startswith(manifest.graphs[n]["file"]) for n in GRAPH_NAMES))
    lines.append(f"  total   {_megabytes(total + other)} (graphs {_megabytes(total)}, test vector {_megabytes(other)})")
    details = manifest.backend_details or {}
    delegation = details.get("delegation")
    if delegation:
        lines.append("delegation:")
        for name in GRAPH_NAMES:
            summary = delegation.get(name)
            if not summary:
                continue
            portable = ", ".join(f"{op} ×{n}" for op, n in summary.get("portable_by_op", {}).items()) or "none"
            lines.append(
                f"  {name:<7} {summary['delegated_ops']} ops in {summary['delegated_subgraphs']} delegated subgraphs; "
                f"{summary['portable_ops']} on portable kernels: {portable}"
            )
    for key, value in details.items():
        if key != "delegation":
            lines.append(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")
    if manifest.vae_drift:
        drift = manifest.vae_drift
        lines.append(
            f"{manifest.vae_precision} VAE vs fp32 on held-out photos: decode {drift['decode_psnr_db']} dB, encode + decode "
            f"{drift['round_trip_psnr_db']} dB PSNR, encode relative error {drift['encode_relative_error']:.2e}"
        )
    if manifest.decode_tiling:
        tiling = manifest.decode_tiling
        lines.append(
            f"decode tiled: {tiling.get('tiles', '?')} tiles of {tiling['tile']}² latents, overlap {tiling['overlap']}; "
            f"seam error (fp32, tiled vs whole) {tiling.get('seam_psnr_db', '?')} dB PSNR"
        )
    vector = manifest.test_vector
    if vector.get("measured"):
        lines.append("test vector at export: " + ", ".join(
            f"{name} {error:.2e} (allowed {vector['tolerance'][name]:.2e})" for name, error in vector["measured"].items()))
    return "\n".join(lines)
