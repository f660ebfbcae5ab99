"""How many CPU threads the runtimes use: chosen deliberately, never the runtimes' "every core" default.

PyTorch, ExecuTorch's XNNPACK pool and ONNX Runtime each start one spinning worker per core. When another
process is busy on one of those cores every operator waits for the descheduled worker: a 320×240 `nano`
inpaint on a busy 2-core machine took 100 s with 2 threads and 8.4 s with 1 (identical pixels). The default
is therefore half the cores this process may use (at least 1); `--threads N` sets it.
"""
from __future__ import annotations

import os
from typing import Optional

from edge_sdk.errors import EdgeSDKError

_CHOSEN: dict[str, int] = {}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    return max(1, available_cpus() // 2)


def use_threads(threads: Optional[int] = None, name: str = "--threads") -> int:
    """Give PyTorch, ExecuTorch and (for runners opened later) ONNX Runtime `threads` workers (None: the
    default); returns the count used."""
    if threads is None:
        threads = default_threads()
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise EdgeSDKError(f"{name} must be a whole number of at least 1, got {threads!r}")
    set_threads(threads)
    _CHOSEN["threads"] = threads
    return threads


def executorch_threadpool():
    try:
        from executorch.extension.pybindings import portable_lib
    except Exception:  # no ExecuTorch here, or a build without the pybindings
        return None
    return portable_lib


def set_threads(threads: Optional[int]) -> None:
    """PyTorch's intra-op pool and ExecuTorch's (XNNPACK's) threadpool get `threads` workers; None keeps defaults."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
    lib = executorch_threadpool()
    if lib is not None and hasattr(lib, "_unsafe_reset_threadpool"):
        from edge_sdk.native_output import quietly

        quietly(lib._unsafe_reset_threadpool, threads)  # its cpuinfo probe prints to the terminal otherwise


def chosen_threads() -> Optional[int]:
    """The count `use_threads` set in this process, if it was called (runners opened later follow it)."""
    return _CHOSEN.get("threads")
