"""Thread counts: what `--threads` sets in each runtime, and what the runtimes then report."""
from __future__ import annotations

from typing import Optional


def _executorch_threadpool():
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
    lib = _executorch_threadpool()
    if lib is not None and hasattr(lib, "_unsafe_reset_threadpool"):
        from edge_sdk.native_output import quietly

        quietly(lib._unsafe_reset_threadpool, threads)  # its cpuinfo probe prints to the terminal otherwise


def runtime_threads(backend: str) -> Optional[int]:
    """The thread count a backend's runtime uses here, where it tells (None where it does not)."""
    if backend == "pytorch":
        import torch

        return torch.get_num_threads()
    if backend == "executorch":
        lib = _executorch_threadpool()
        if lib is not None and hasattr(lib, "_threadpool_get_thread_count"):
            return int(lib._threadpool_get_thread_count())
    if backend == "onnxruntime":
        from edge_sdk.threads import chosen_threads

        return chosen_threads()  # what its sessions' intra_op_num_threads are set to (backends/onnxruntime/runner.py)
    return None
