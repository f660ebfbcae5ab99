"""Output paths: checked before any slow work, written atomically with the user's umask.

A check creates (and removes) a temporary file where the output will go, so a read-only file system, a
folder named like an image or a path under /proc is refused in one line before minutes of inference.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Union

from PIL import Image

from edge_sdk.errors import OutputPathError

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
# Lossy formats are written at this quality (PIL's default, 75, visibly blurs a fill's edges).
LOSSY_QUALITY = 95
_NO_ALPHA = {"JPEG", "BMP"}

PathLike = Union[str, os.PathLike]


def user_mode(kind: str = "file") -> int:
    """The permission bits a plain `open`/`mkdir` would give under the current umask (0644/0755 typically)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o666 if kind == "file" else 0o777) & ~umask


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def check_writable_folder(folder: Path, what: str) -> None:
    """Raise InputImageError unless a file can be created in `folder` (tried for real, then removed)."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".moebius-edge-probe-", dir=folder)
    except OSError as exc:
        raise OutputPathError(f"cannot write {what}: {folder} is not writable ({_reason(exc)})") from None
    os.close(handle)
    os.unlink(probe)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_image(path: PathLike, inputs: Iterable[PathLike] = ()) -> Path:
    """The output image path, checked: a known extension, an existing writable folder, not a folder itself
    and not one of the `inputs` (overwriting the photo being edited loses it)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_FORMATS:
        raise OutputPathError(f"output {path} must end in one of {', '.join(sorted(IMAGE_FORMATS))}")
    if path.is_dir():
        raise OutputPathError(f"output {path} is a folder: name an image file")
    if not path.parent.is_dir():
        raise OutputPathError(f"output folder does not exist: {path.parent}")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(path, Path(source)):
            raise OutputPathError(f"output {path} is the input {source}: choose another output path")
    check_writable_folder(path.parent, str(path))
    return path


def check_output_folder(folder: PathLike) -> Path:
    """A folder that will be created if needed: it must not be a file, and its nearest existing ancestor
    must be writable (nothing is created here)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"output {folder} is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"cannot create {folder}: {existing} is not a folder")
    check_writable_folder(existing, str(folder))
    return folder


def _writable_in(image: Image.Image, image_format: str) -> Image.Image:
    if image_format in _NO_ALPHA and image.mode in ("RGBA", "LA"):
        # These formats have no alpha channel: flatten on white, as the model saw the picture.
        background = Image.new(image.mode, image.size, (255,) * len(image.mode))
        return Image.alpha_composite(background.convert("RGBA"), image.convert("RGBA")).convert(image.mode[:-1])
    return image


def save_image_atomic(image: Image.Image, path: PathLike) -> Path:
    """Write next to the target and rename, so a failure never leaves a half-written file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputPathError(f"output folder does not exist: {path.parent}")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise OutputPathError(f"output {path} must end in one of {', '.join(sorted(IMAGE_FORMATS))}")
    image_format = IMAGE_FORMATS[suffix]
    options = {"quality": LOSSY_QUALITY} if image_format in ("JPEG", "WEBP") else {}
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {path.parent} is not writable ({_reason(exc)})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            _writable_in(image, image_format).save(stream, format=image_format, **options)
        os.chmod(temporary, user_mode("file"))  # mkstemp makes 0600; an output is shared like any other file
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputPathError(f"cannot write {path} ({_reason(exc)})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
