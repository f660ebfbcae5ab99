"""Keeping what native toolchain code prints (ExecuTorch's cpuinfo probe, lowering warnings) off the terminal.

C++ libraries write to file descriptor 2 directly, past Python's sys.stderr, so they are redirected at the
descriptor level; our own messages keep going to the real terminal through `terminal`, a stream on a copy
of the original descriptor.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, Optional, TextIO


@contextlib.contextmanager
def native_stderr_to(path: Optional[Path] = None) -> Iterator[TextIO]:
    """Within the block, descriptor 2 (so native prints, Python warnings and log records alike) goes to
    `path` (appended), or nowhere when `path` is None; yields a text stream to the original stderr for our
    own progress."""
    python_stderr = sys.stderr
    python_stderr.flush()
    target = os.open(os.devnull if path is None else path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    saved = os.dup(2)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding or "utf-8", errors="replace")
    # ExecuTorch's pybindings log through Python's sys.stderr, C++ elsewhere through the descriptor: cover both.
    # The stream is left open: a log handler created inside the block may keep writing to it afterwards.
    sys.stderr = os.fdopen(os.dup(target), "w", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(target, 2)
    os.close(target)
    try:
        yield terminal
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)
        terminal.close()


def quietly(function, *args, **kwargs):
    """Call `function` with native output discarded (for one-time probes such as ExecuTorch's cpuinfo)."""
    with native_stderr_to(None):
        return function(*args, **kwargs)
