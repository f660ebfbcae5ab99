"""The bundle manifest: what a bundle holds, where it came from, and the hash of every file.

A bundle is a directory: `manifest.json`, the three graphs in the backend's format and a test vector.
`Manifest` is the one reader and writer of manifest.json; `read_bundle` validates the manifest and (by
default) every file's sha256 before anything is loaded.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from pathlib import Path
from typing import Optional

from edge_sdk.atomic_files import write_text_atomic
from edge_sdk.bundle.files import sha256_file
from edge_sdk.deploy.host_loop import StartOfLoop
from edge_sdk.deploy.graph_contract import GRAPH_NAMES
from edge_sdk.deploy.tiled_decode import DecodeTiling
from edge_sdk.errors import BundleError

FORMAT = "moebius-edge/bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# manifest.json's keys in the order they are written; keys a manifest lacks stay absent when it is written back.
FIELD_ORDER = (
    "format", "format_version", "backend", "precision", "vae_precision", "model", "model_source", "image_size",
    "latent_size", "latent_channels", "steps", "strength", "guidance_scale", "timesteps", "schedule", "graphs",
    "decode_tiling", "test_vector", "calibration", "vae_drift", "backend_details", "sdk_version", "toolchain", "created", "files",
    "export_seconds",
)
REQUIRED = ("backend", "precision", "graphs", "files", "image_size", "timesteps", "schedule", "test_vector")


@dataclasses.dataclass
class Manifest:
    """manifest.json as a typed object: `Manifest.read(path)` validates, `manifest.write(path)` is atomic.

    `graphs` maps each graph to {file, precision, inputs, outputs, sha256}; `files` maps every file to
    {bytes, sha256}; `backend_details` is the backend's own record (delegation, quantization, ...).
    `vae_precision` is that of the encode and decode graphs, one for both or "ENCODE/DECODE"
    (edge_sdk/deploy/vae_precision.py; manifests written before it existed: their decode graph's).
    """

    backend: str
    precision: str
    image_size: int
    timesteps: list[int]
    schedule: dict
    graphs: dict
    test_vector: dict
    files: dict = dataclasses.field(default_factory=dict)
    model: str = "custom"
    model_source: Optional[dict] = None
    latent_size: Optional[int] = None
    latent_channels: Optional[int] = None
    steps: Optional[int] = None
    strength: float = 1.0
    guidance_scale: float = 2.5
    vae_precision: Optional[str] = None
    # {"tile", "overlap"} (latents) when the decode graph takes tiles, with the seam error measured at export.
    decode_tiling: Optional[dict] = None
    calibration: Optional[dict] = None  # what the int8 recipe's calibration predicted (PSNR), else null
    vae_drift: Optional[dict] = None  # an int8 VAE's drift from fp32 on held-out photos, measured at export
    backend_details: dict = dataclasses.field(default_factory=dict)
    sdk_version: Optional[str] = None
    toolchain: dict = dataclasses.field(default_factory=dict)
    created: Optional[str] = None
    export_seconds: Optional[dict] = None
    # Keys this SDK does not know (kept for writing back) and known keys the document lacked (left out again).
    unknown: dict = dataclasses.field(default_factory=dict, repr=False)
    absent: tuple = dataclasses.field(default=(), repr=False)

    @property
    def baked_steps(self) -> int:
        """The step count the schedule was built with (older manifests record it in the schedule only)."""
        return int(self.steps if self.steps is not None else self.schedule.get("steps", len(self.timesteps)))

    @property
    def source(self) -> dict:
        return self.model_source or {}

    @property
    def model_name(self) -> str:
        return self.model if "model" not in self.absent else self.source.get("name", "custom")

    @property
    def tiling(self) -> Optional[DecodeTiling]:
        """How the host runs the decode graph: tile by tile (docs/architecture.md, "Tiled decode"), or None."""
        return DecodeTiling.from_dict(self.decode_tiling)

    def loop_schedule(self) -> StartOfLoop:
        """What the host loop needs: the timesteps and how the first latent is made."""
        return StartOfLoop(
            timesteps=tuple(self.timesteps),
            starts_from_noise=bool(self.schedule.get("starts_from_noise", self.strength >= 1.0)),
            start_signal=float(self.schedule.get("start_signal", 0.0)),
            start_noise=float(self.schedule.get("start_noise", 1.0)),
        )

    @classmethod
    def from_dict(cls, document, where) -> "Manifest":
        """A validated Manifest; BundleError names the first problem (`where`: the file, for the message)."""
        _validate(document, where)
        known = {field.name for field in dataclasses.fields(cls)} - {"unknown", "absent"}
        values = {key: document[key] for key in known if key in document}
        values["timesteps"] = [int(t) for t in document["timesteps"]]
        values["image_size"] = int(document["image_size"])
        # Older manifests name the VAE's precision only per graph (the key stays absent when written back).
        values.setdefault("vae_precision", document["graphs"]["decode"].get("precision", document["precision"]))
        return cls(
            **values,
            unknown={key: value for key, value in document.items() if key not in known and key not in FIELD_ORDER[:2]},
            absent=tuple(key for key in FIELD_ORDER[2:] if key not in document),
        )

    def to_dict(self) -> dict:
        """The JSON document, keys in FIELD_ORDER (as exports have always written them), unknown keys last."""
        document = {"format": FORMAT, "format_version": FORMAT_VERSION}
        for key in FIELD_ORDER[2:]:
            if key not in self.absent:
                document[key] = getattr(self, key)
        document.update(self.unknown)
        return document

    @classmethod
    def read(cls, path) -> "Manifest":
        """The manifest of the bundle folder `path` (clear one-line BundleError for anything wrong)."""
        return read_manifest(path)

    def write(self, directory) -> Path:
        """Write manifest.json into `directory` atomically."""
        target = Path(directory) / MANIFEST_NAME
        return write_text_atomic(target, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A bundle directory whose manifest has been read (and, by `read_bundle`, whose files were checked)."""

    path: Path
    manifest: Manifest

    @property
    def backend(self) -> str:
        return self.manifest.backend

    @property
    def precision(self) -> str:
        return self.manifest.precision

    @property
    def timesteps(self) -> list[int]:
        return list(self.manifest.timesteps)

    @property
    def image_size(self) -> int:
        return self.manifest.image_size

    def graph_path(self, name: str) -> Path:
        return self.path / self.manifest.graphs[name]["file"]

    def file_path(self, relative: str) -> Path:
        return self.path / relative


def read_manifest(path) -> Manifest:
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
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not readable JSON ({exc.__class__.__name__}): the bundle is damaged") from None
    return Manifest.from_dict(document, manifest_path)


def _validate(manifest, where: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{where} is not a Moebius Edge bundle manifest (format {FORMAT!r} expected)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{where}: bundle format version {version!r} is not supported (this SDK reads version {FORMAT_VERSION}); re-export the bundle")
    for key in REQUIRED:
        if key not in manifest:
            raise BundleError(f"{where}: the manifest has no '{key}': the bundle is damaged")
    graphs = manifest["graphs"]
    if not isinstance(graphs, dict) or set(graphs) != set(GRAPH_NAMES):
        raise BundleError(f"{where}: the manifest must describe the graphs {', '.join(GRAPH_NAMES)}")
    for name in GRAPH_NAMES:
        if not isinstance(graphs[name], dict) or not isinstance(graphs[name].get("file"), str):
            raise BundleError(f"{where}: the manifest names no file for the {name} graph")
    _check_backend_files(manifest, where)
    _check_decode_tiling(manifest, where)
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


def _check_decode_tiling(manifest: dict, where: Path) -> None:
    tiling = manifest.get("decode_tiling")
    if tiling is None:
        return
    if not isinstance(tiling, dict) or not all(isinstance(tiling.get(key), int) for key in ("tile", "overlap")):
        raise BundleError(f"{where}: decode_tiling must be null or an object with integer 'tile' and 'overlap': the bundle is damaged")
    latent_size = manifest.get("latent_size", int(manifest["image_size"]) // 8)
    try:
        DecodeTiling.from_dict(tiling).check(latent_size)
    except ValueError as exc:
        raise BundleError(f"{where}: {exc}: the bundle is damaged") from None


def check_files(path: Path, manifest: Manifest) -> None:
    """Raise BundleError naming the first missing or changed file (every listed file is hashed)."""
    missing = [rel for rel in manifest.files if not (path / rel).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BundleError(f"bundle {path}: file {missing[0]} is missing{more}; the bundle is incomplete, re-export it")
    for rel, record in manifest.files.items():
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
