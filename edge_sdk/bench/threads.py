"""Thread counts: what `--threads` sets in each runtime, and what the runtimes then report."""
from __future__ import annotations

from typing import Optional

from edge_sdk.threads import chosen_threads, executorch_threadpool


def runtime_threads(backend: str) -> Optional[int]:
    """The thread count a backend's runtime uses here, where it tells (None where it does not)."""
    if backend == "pytorch":
        import torch

        return torch.get_num_threads()
    if backend == "executorch":
        lib = executorch_threadpool()
        if lib is not None and hasattr(lib, "_threadpool_get_thread_count"):
            return int(lib._threadpool_get_thread_count())
    if backend == "onnxruntime":
        return chosen_threads()  # what its sessions' intra_op_num_threads are set to (backends/onnxruntime/runner.py)
    return None
