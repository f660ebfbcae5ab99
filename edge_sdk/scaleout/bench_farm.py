"""A device farm for `moebius-edge bench`: every device measures the bundles on its own node, and their
rows are merged into one bench.json / bench.md / bench.png.

A node joins the farm with `ray start --address HEAD:6379 --resources '{"device:pixel8": 1}'`. Each
device's measurement is one Ray task that needs one unit of `device:NAME`, so it runs on that node; the
bundles travel in the object store (nodes need no shared disk) and are measured there by the same
`run_bench` as a local run. Each device's rows carry `device`, its ratios are against the eager reference
measured on that same device, and its host is listed under `farm`. A device no node advertises, a task
that raises, or a node that dies mid-run gives a failed row (and a note), not a lost run.
"""
from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from edge_sdk.errors import EdgeSDKError

RESOURCE_PREFIX = "device:"
POLL_S = 1.0  # how often the farm checks that every device with a pending measurement is still there


class FarmError(EdgeSDKError):
    """A farm run that cannot start or whose every device failed."""


def _pack(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def measure_on_node(bundles: list[tuple[str, dict]], options: dict) -> dict:
    """The Ray task: write the shipped bundles into a temporary folder on this node and benchmark them."""
    import socket

    from edge_sdk.bench.runner import run_bench

    with tempfile.TemporaryDirectory(prefix="moebius-edge-farm-") as scratch:
        paths = []
        for name, files in bundles:
            folder = Path(scratch) / "bundles" / name
            _unpack(files, folder)
            paths.append(folder)
        document = run_bench(paths, Path(scratch) / "out", progress=False, **options)
    import ray

    document["host"]["hostname"] = socket.gethostname()
    document["host"]["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return document


def run_farm(
    bundles: Sequence,
    out_dir,
    devices: Sequence[str],
    *,
    ray_address: Optional[str] = None,
    threads: Optional[int] = None,
    **options,
) -> dict:
    """Benchmark `bundles` on every device in `devices` and write the merged report into `out_dir`."""
    from edge_sdk.bench.runner import BenchError, _check_settings, _open_bundles
    from edge_sdk.ray_runtime import ray_session

    devices = list(dict.fromkeys(d.strip() for d in devices if d.strip()))
    if not devices:
        raise FarmError("--ray-address needs --devices NAME[,NAME…]: the devices whose nodes advertise device:NAME")
    _check_settings(options.get("steps", 10), options.get("warmup", 2), threads, options.get("samples", 3))
    opened = _open_bundles([Path(b) for b in bundles])  # hashes and one model, before anything is sent
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchError(f"--out {out_dir} is a file, not a folder")
    shipped = [(bundle.path.name, _pack(bundle.path)) for bundle in opened]
    options = dict(options, threads=threads)

    results: dict[str, dict] = {}
    with ray_session(ray_address) as ray:
        available = ray.cluster_resources()
        payload = ray.put(shipped)
        task = ray.remote(max_retries=0)(measure_on_node)
        pending = {}
        for device in devices:
            resource = f"{RESOURCE_PREFIX}{device}"
            if available.get(resource, 0) < 1:
                results[device] = {"error": f"no node of the cluster advertises the resource {resource}"}
                continue
            pending[device] = task.options(num_cpus=threads or 1, resources={resource: 1}).remote(payload, options)
        _collect(ray, pending, results)
    merged = merge_documents(results, devices)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(merged, out_dir)
    return merged


def _collect(ray, pending: dict, results: dict) -> None:
    """Wait for every device's task. A task fails with its node (worker crashed, node died); a task whose
    node left before it was scheduled would wait forever, so the device's resource is watched as well."""
    while pending:
        ready, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=POLL_S)
        for device in [d for d, ref in pending.items() if ref in ready]:
            try:
                results[device] = {"document": ray.get(pending.pop(device))}
            except ray.exceptions.RayError as exc:  # node lost, worker crashed, or the measurement raised
                results[device] = {"error": _reason(exc)}
        remaining = ray.cluster_resources()
        for device in [d for d in pending if remaining.get(f"{RESOURCE_PREFIX}{d}", 0) < 1]:
            ray.cancel(pending.pop(device), force=True)
            results[device] = {"error": f"the node advertising {RESOURCE_PREFIX}{device} left the cluster before its measurement ended"}


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, EdgeSDKError):
        return str(cause)
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{exc.__class__.__name__}: {lines[0]}" if lines else exc.__class__.__name__


def merge_documents(results: dict[str, dict], devices: Sequence[str]) -> dict:
    """One bench document: the first successful device's reference and settings, every device's rows (its
    eager reference first, each tagged with `device`), and `farm` listing each device's host or failure."""
    succeeded = [d for d in devices if "document" in results[d]]
    if not succeeded:
        raise FarmError("every device failed: " + "; ".join(f"{d}: {results[d]['error']}" for d in devices))
    base = results[succeeded[0]]["document"]
    rows = []
    for device in succeeded:
        document = results[device]["document"]
        entries = [document["reference"], *document["bundles"]]
        rows.extend(dict(entry, device=device) for entry in entries)
    farm = []
    notes = list(base["notes"])
    for device in devices:
        if "document" in results[device]:
            farm.append({"device": device, "status": "ok", "error": None, "host": results[device]["document"]["host"]})
        else:
            farm.append({"device": device, "status": "failed", "error": results[device]["error"], "host": None})
            notes.append(f"device {device} failed: {results[device]['error']}")
    return dict(
        base,
        created=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        reference=rows[0],
        bundles=rows[1:],
        farm=farm,
        notes=notes,
    )


def _write(document: dict, out_dir: Path) -> None:
    from edge_sdk.bench.report_json import write_json
    from edge_sdk.bench.report_markdown import render
    from edge_sdk.bench.report_plot import draw
    from edge_sdk.atomic_files import write_atomic, write_text_atomic

    write_json(document, out_dir / "bench.json")
    write_text_atomic(out_dir / "bench.md", render(document))
    write_atomic(out_dir / "bench.png", lambda temporary: draw(document, temporary))
