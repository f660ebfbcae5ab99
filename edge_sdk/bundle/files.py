"""Files of a bundle: content hashes, and publishing a directory atomically (temporary name, then rename)."""
from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from edge_sdk.errors import BundleError

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


PARTIAL_MARK = ".partial-"


def _staging_prefix(destination: Path) -> str:
    return f".{destination.name}{PARTIAL_MARK}"


def _owner_alive(staging: Path, prefix: str) -> bool:
    """Whether the process named in a staging folder's name (`.NAME.partial-PID-xxxx`) still runs."""
    pid_text = staging.name[len(prefix):].split("-", 1)[0]
    if not pid_text.isdigit():
        return False  # written before folders carried their owner: nothing can still be writing it
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def sweep_stale_staging(destination: Path) -> list[Path]:
    """Remove staging folders of `destination` left by an export that was killed (SIGKILL, power loss)."""
    prefix = _staging_prefix(destination)
    removed = []
    for staging in destination.parent.glob(f"{glob.escape(prefix)}*"):
        if staging.is_dir() and not _owner_alive(staging, prefix):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


@contextlib.contextmanager
def _sigterm_raises():
    """SIGTERM ends the block like Ctrl-C does (SystemExit 143), so the cleanup below runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def publishing_directory(destination: Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside `destination`; rename it to `destination` when the block
    succeeds, delete it when the block raises or is interrupted (Ctrl-C or SIGTERM), so no half-written
    bundle remains. The published folder gets the user's umask, like any folder they create."""
    from edge_sdk.output_files import user_mode

    destination = Path(destination)
    parent = destination.parent
    if not parent.is_dir():
        raise BundleError(f"output folder does not exist: {parent}")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BundleError(f"{destination} already exists and is not an empty directory: choose a new output path")
    sweep_stale_staging(destination)
    with _sigterm_raises():
        try:
            staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(destination)}{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise BundleError(f"cannot write {destination}: {parent} is not writable ({exc.strerror})") from None
        try:
            yield staging
            os.chmod(staging, user_mode("dir"))  # mkdtemp makes 0700: a bundle must be servable as exported
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
