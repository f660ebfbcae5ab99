"""Joining or starting Ray for one job, with a one-line error when Ray is missing or unreachable."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator, Optional

from edge_sdk.errors import EdgeSDKError

# A local Ray started by the SDK reserves this much shared memory for objects (Ray's default is 30% of
# RAM); the jobs here pass images by path and results as small rows.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2


class RayUnavailableError(EdgeSDKError):
    """Ray is not installed, or the cluster named by --ray-address cannot be reached."""


def require_ray():
    """The `ray` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (needs pyarrow and pandas: checked here, not half-way into a job)
    except ImportError as exc:
        raise RayUnavailableError(
            f"this command needs Ray ({exc.name or 'ray'} is not installed): pip install \"moebius-edge[ray]\" "
            "(ray==2.60.0 with pyarrow and pandas, pinned in requirements.txt)"
        ) from None
    return ray


@contextlib.contextmanager
def ray_session(address: Optional[str] = None, *, num_cpus: Optional[int] = None) -> Iterator[object]:
    """Ray for the duration of a job. Without `address` a local Ray is started (and shut down after);
    with one ("auto" or HOST:PORT) the job joins that cluster. A Ray the caller already initialised
    (a notebook, a test's cluster) is used as it is and left running."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    if address:
        _probe(address)
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False, log_to_driver=False,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise RayUnavailableError(f"cannot start or join {where}: {first_line}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    import socket

    if address == "auto" or "://" in address:
        return  # "auto" reads the local cluster's address file; ray:// is Ray Client's own protocol
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailableError(f"--ray-address must be 'auto' or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def cluster_cpus(ray) -> int:
    return int(ray.cluster_resources().get("CPU", 1))
