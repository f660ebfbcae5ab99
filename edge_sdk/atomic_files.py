"""Writing files and folders atomically: readers see the old content or the new, never half of one."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Union

from edge_sdk.output_files import user_mode

PathLike = Union[str, os.PathLike]


def write_atomic(path: PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(temporary_path)` next to `path`, then rename it over `path`.

    The temporary name ends in `.part`: a writer that infers the format from the suffix needs it spelled out.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        _flush_to_disk(temporary)  # the rename must not reach the disk before the bytes do
        os.chmod(temporary, user_mode("file"))  # mkstemp makes 0600: an output is shared like any other file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _flush_to_disk(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomic(path: PathLike, text: str) -> Path:
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def publish_folder(build: Callable[[Path], None], destination: PathLike) -> Path:
    """Fill a temporary sibling folder with `build(folder)`, then move it to `destination` in one rename.

    An existing `destination` is replaced only once the new one is complete.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent))
    try:
        build(staging)
        os.chmod(staging, user_mode("dir"))  # mkdtemp makes 0700
        if destination.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".old", dir=destination.parent))
            os.replace(destination, retired / destination.name)
            os.replace(staging, destination)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination
