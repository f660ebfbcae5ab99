"""What a batch job inpaints: a folder of image/mask pairs or a CSV/Parquet manifest, as rows.

Folder: every image `NAME.ext` with its mask `NAME_mask.ext` beside it (the bundled samples' layout).
Manifest: columns `image` and `mask` (paths, relative ones from the manifest's folder) and optionally
`seed`, `steps`, `strength` and `output` (a path inside the output folder; default `images/NAME.png`).
A row's problems with its own files (missing, unreadable, a mask of another size) are found when it runs
and reported in its result row; problems that make the whole job ambiguous (no rows, a missing column,
two rows writing one file) stop it before it starts.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path, PurePosixPath
from typing import Optional

from edge_sdk.errors import EdgeSDKError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MASK_SUFFIX = "_mask"
MANIFEST_SUFFIXES = (".csv", ".parquet")
REQUIRED_COLUMNS = ("image", "mask")
OPTIONAL_COLUMNS = ("seed", "steps", "strength", "output")


class BatchInputError(EdgeSDKError):
    """The batch input as a whole cannot be used (not a folder or manifest, no rows, clashing outputs)."""


@dataclasses.dataclass(frozen=True)
class BatchRow:
    """One inpainting: `output` is relative to the output folder and is the row's identity for resuming.
    `steps` 0 and `strength` NaN mean the job's defaults (Ray Data columns cannot hold None and ints)."""

    row_id: int
    image: str
    mask: str
    output: str
    seed: int
    steps: int = 0
    strength: float = math.nan

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_rows(source: Path, *, seed: int = 0) -> list[BatchRow]:
    source = Path(source)
    if source.is_dir():
        rows = _folder_rows(source, seed)
    elif source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES:
        rows = _manifest_rows(source, seed)
    elif source.exists():
        raise BatchInputError(f"{source} is neither a folder of image/mask pairs nor a .csv/.parquet manifest")
    else:
        raise BatchInputError(f"batch input not found: {source}")
    if not rows:
        raise BatchInputError(f"{source} holds no images to inpaint")
    _check_unique_outputs(rows)
    return rows


def _folder_rows(folder: Path, seed: int) -> list[BatchRow]:
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.stem.endswith(MASK_SUFFIX))
    rows = []
    for row_id, image in enumerate(images):
        masks = [image.with_name(f"{image.stem}{MASK_SUFFIX}{suffix}") for suffix in IMAGE_SUFFIXES]
        mask = next((m for m in masks if m.is_file()), image.with_name(f"{image.stem}{MASK_SUFFIX}.png"))
        # A missing mask is that row's problem: its result says so, the other rows still run.
        rows.append(BatchRow(row_id, str(image), str(mask), f"images/{image.stem}.png", seed))
    return rows


def _manifest_rows(manifest: Path, seed: int) -> list[BatchRow]:
    table = _read_table(manifest)
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        raise BatchInputError(f"manifest {manifest.name} lacks the column(s) {', '.join(missing)} (it has {', '.join(table) or 'none'})")
    base = manifest.parent
    count = len(table["image"])
    rows = []
    for row_id in range(count):
        def cell(column):
            values = table.get(column)
            value = None if values is None else values[row_id]
            return None if value is None or (isinstance(value, float) and math.isnan(value)) or value == "" else value

        image, mask = cell("image"), cell("mask")
        if image is None or mask is None:
            raise BatchInputError(f"manifest {manifest.name} row {row_id + 1} has no {'image' if image is None else 'mask'}")
        output = cell("output") or f"images/{Path(str(image)).stem}.png"
        rows.append(BatchRow(
            row_id,
            str(_resolve(base, image)),
            str(_resolve(base, mask)),
            _inside(str(output), manifest, row_id),
            _number(cell("seed"), int, seed, "seed", manifest, row_id),
            _number(cell("steps"), int, 0, "steps", manifest, row_id),
            _number(cell("strength"), float, math.nan, "strength", manifest, row_id),
        ))
    return rows


def _read_table(manifest: Path) -> dict[str, list]:
    import pyarrow

    try:
        if manifest.suffix.lower() == ".csv":
            import pyarrow.csv

            # Every column as text: numbers are parsed per cell below, with the row named in any error.
            names = pyarrow.csv.read_csv(manifest, read_options=pyarrow.csv.ReadOptions(block_size=1 << 20)).column_names
            table = pyarrow.csv.read_csv(manifest, convert_options=pyarrow.csv.ConvertOptions(column_types={n: pyarrow.string() for n in names}))
        else:
            import pyarrow.parquet

            table = pyarrow.parquet.read_table(manifest)
    except (pyarrow.ArrowInvalid, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise BatchInputError(f"cannot read manifest {manifest}: {first_line}") from None
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _resolve(base: Path, value) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def _inside(output: str, manifest: Path, row_id: int) -> str:
    relative = PurePosixPath(output.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or not relative.name:
        raise BatchInputError(f"manifest {manifest.name} row {row_id + 1}: output {output!r} must be a relative path inside the output folder")
    if Path(relative.name).suffix.lower() not in IMAGE_SUFFIXES:
        raise BatchInputError(f"manifest {manifest.name} row {row_id + 1}: output {output!r} must end in one of {', '.join(IMAGE_SUFFIXES)}")
    return str(relative)


def _number(value, kind, default, column: str, manifest: Path, row_id: int):
    if value is None:
        return default
    try:
        number = kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise BatchInputError(f"manifest {manifest.name} row {row_id + 1}: {column} {value!r} is not a number") from None
    if kind is int and float(value) != number:
        raise BatchInputError(f"manifest {manifest.name} row {row_id + 1}: {column} {value!r} is not a whole number")
    return number


def _check_unique_outputs(rows: list[BatchRow]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        if row.output in seen:
            raise BatchInputError(
                f"rows {seen[row.output] + 1} and {row.row_id + 1} would both write {row.output}: give them distinct outputs"
            )
        seen[row.output] = row.row_id


def bundle_overrides(rows: list[BatchRow]) -> Optional[str]:
    """Why these rows cannot run on a bundle (its steps and strength are baked in), or None."""
    for row in rows:
        if row.steps or not math.isnan(row.strength):
            return f"row {row.row_id + 1} sets steps or strength, but a bundle's schedule is baked in at export: use --model"
    return None
