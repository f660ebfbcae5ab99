"""The bundle manifest: what a bundle holds, where it came from, and the hash of every file.

A bundle is a directory: `manifest.json`, the three graphs in the backend's format and a test vector.
`read_bundle` validates the manifest and (by default) every file's sha256 before anything is loaded.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from pathlib import Path
from typing import Optional

from edge_sdk.bundle.files import sha256_file
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.errors import BundleError

FORMAT = "moebius-edge/bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A bundle directory whose manifest has been read (and, by `read_bundle`, whose files were checked)."""

    path: Path
    manifest: dict

    @property
    def backend(self) -> str:
        return self.manifest["backend"]

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    @property
    def timesteps(self) -> list[int]:
        return [int(t) for t in self.manifest["timesteps"]]

    @property
    def schedule(self) -> dict:
        return self.manifest["schedule"]

    @property
    def image_size(self) -> int:
        return int(self.manifest["image_size"])

    def graph_path(self, name: str) -> Path:
        return self.path / self.manifest["graphs"][name]["file"]

    def file_path(self, relative: str) -> Path:
        return self.path / relative


def read_manifest(path: Path) -> dict:
    if not isinstance(path, (str, os.PathLike)):
        raise BundleError(f"a bundle is a folder path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise BundleError(f"bundle not found: {path}")
    if not path.is_dir():
        raise BundleError(f"{path} is not a bundle: a bundle is a directory with a {MANIFEST_NAME}")
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"{path} is not a bundle: {MANIFEST_NAME} is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not readable JSON ({exc.__class__.__name__}): the bundle is damaged") from None
    _validate(manifest, manifest_path)
    return manifest


def _validate(manifest, where: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{where} is not a Moebius Edge bundle manifest (format {FORMAT!r} expected)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{where}: bundle format version {version!r} is not supported (this SDK reads version {FORMAT_VERSION}); re-export the bundle")
    for key in ("backend", "precision", "graphs", "files", "image_size", "timesteps", "schedule", "test_vector"):
        if key not in manifest:
            raise BundleError(f"{where}: the manifest has no '{key}': the bundle is damaged")
    graphs = manifest["graphs"]
    if not isinstance(graphs, dict) or set(graphs) != set(GRAPH_NAMES):
        raise BundleError(f"{where}: the manifest must describe the graphs {', '.join(GRAPH_NAMES)}")
    for name in GRAPH_NAMES:
        if not isinstance(graphs[name], dict) or not isinstance(graphs[name].get("file"), str):
            raise BundleError(f"{where}: the manifest names no file for the {name} graph")
    _check_backend_files(manifest, where)
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{where}: the manifest lists no files")
    for relative in files:
        # Hashes are checked for paths inside the bundle only.
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise BundleError(f"{where}: file entry {relative!r} points outside the bundle")


def _check_backend_files(manifest: dict, where: Path) -> None:
    """The graph files must be in the format of the backend the manifest names (an edited backend field
    would otherwise reach a runtime that cannot parse them)."""
    from edge_sdk.backends.registry import BACKENDS, get_backend, is_known

    backend = manifest["backend"]
    if not is_known(backend):
        raise BundleError(f"{where}: unknown backend {backend!r} (this SDK knows {', '.join(BACKENDS)}): the bundle is damaged")
    suffix = get_backend(backend).suffix
    for name in GRAPH_NAMES:
        file = manifest["graphs"][name]["file"]
        if not file.endswith(suffix):
            raise BundleError(
                f"{where}: the manifest says backend {backend!r}, whose graphs are {suffix} files, but its {name} graph "
                f"is {file}: the bundle is damaged"
            )


def check_files(path: Path, manifest: dict) -> None:
    """Raise BundleError naming the first missing or changed file (every listed file is hashed)."""
    missing = [rel for rel in manifest["files"] if not (path / rel).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BundleError(f"bundle {path}: file {missing[0]} is missing{more}; the bundle is incomplete, re-export it")
    for rel, record in manifest["files"].items():
        file = path / rel
        if file.stat().st_size != record.get("bytes"):
            raise BundleError(
                f"bundle {path}: file {rel} changed since export (size {file.stat().st_size} bytes, manifest says {record.get('bytes')})"
            )
        digest = sha256_file(file)
        if digest != record.get("sha256"):
            raise BundleError(f"bundle {path}: file {rel} changed since export (sha256 {digest[:12]}…, manifest says {str(record.get('sha256'))[:12]}…)")


def read_bundle(path, verify_files: bool = True) -> Bundle:
    """The bundle at `path`; with `verify_files`, every file's size and sha256 must match the manifest."""
    manifest = read_manifest(path)
    path = Path(path)
    if verify_files:
        check_files(path, manifest)
    return Bundle(path=path, manifest=manifest)


def write_manifest(directory: Path, manifest: dict) -> Path:
    target = Path(directory) / MANIFEST_NAME
    target.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return target


def model_description(
    name: str,
    config,
    *,
    checkpoint: Optional[Path] = None,
    vae: Optional[str] = None,
    random_weights: bool = False,
) -> dict:
    """The manifest's `model` entry: preset or config, and the checkpoint's sha256 when there is a file."""
    return {
        "name": name,
        "config": config.to_dict(),
        "checkpoint": Path(checkpoint).name if checkpoint is not None else None,
        "checkpoint_sha256": sha256_file(Path(checkpoint)) if checkpoint is not None and Path(checkpoint).is_file() else None,
        "vae": str(Path(vae).name) if vae is not None and Path(str(vae)).exists() else vae,
        "random_weights": bool(random_weights),
    }
