"""Files of a bundle: content hashes, and publishing a directory atomically (temporary name, then rename)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from edge_sdk.bundle.errors import BundleError

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def listed_files(root: Path, entries) -> list[str]:
    """Every regular file under the given entries (files, or directories such as a `.mlpackage`), as
    POSIX paths relative to `root`, sorted."""
    found = []
    for entry in entries:
        path = root / entry
        if path.is_dir():
            found.extend(p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(Path(entry).as_posix())
    return sorted(found)


def file_records(root: Path, relative_paths) -> dict[str, dict]:
    return {rel: {"sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size} for rel in relative_paths}


@contextlib.contextmanager
def publishing_directory(destination: Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside `destination`; rename it to `destination` when the block
    succeeds, delete it when the block raises (or is interrupted), so no half-written bundle remains."""
    destination = Path(destination)
    parent = destination.parent
    if not parent.is_dir():
        raise BundleError(f"output folder does not exist: {parent}")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BundleError(f"{destination} already exists and is not an empty directory: choose a new output path")
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=parent))
    try:
        yield staging
        if destination.exists():
            destination.rmdir()  # the empty directory checked above
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def directory_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
