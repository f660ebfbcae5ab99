"""Reading the GPU reference JSON that `benchmarks/gpu_reference.py` writes, and choosing the row to compare.

The row compared with is the fastest *deployable* one (optimized graphs, fp32 or with fp32 λ islands)
that ran without error: what a GPU deployment of the same graphs would run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from edge_sdk.errors import EdgeSDKError


class GPUReferenceError(EdgeSDKError):
    """The GPU reference file is missing or not what benchmarks/gpu_reference.py writes."""


def _deployable(row: dict) -> bool:
    return row.get("graphs") == "optimized" and (row.get("dtype") == "fp32" or bool(row.get("fp32_lambda")))


def read_gpu_reference(path: Path, model: str) -> dict:
    """The summary bench.json keeps: device, preset, the chosen row and its step / inpaint ms.

    `comparable` is False (with `note`) when the file measured another model than the bundles'.
    """
    return summarise(load_gpu_reference(path), Path(path).name, model)


def load_gpu_reference(path: Path) -> dict:
    """The file's document; GPUReferenceError when it is missing or not a GPU reference."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GPUReferenceError(f"GPU reference not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GPUReferenceError(f"{path} is not readable JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list) or "device" not in document:
        raise GPUReferenceError(f"{path} is not a GPU reference (benchmarks/gpu_reference.py writes 'device' and 'rows')")
    rows = [r for r in document["rows"] if isinstance(r, dict) and r.get("step_ms") is not None and not r.get("error")]
    if not rows:
        raise GPUReferenceError(f"{path} has no row with a measured step time")
    return document


def summarise(document: dict, file_name: str, model: str) -> dict:
    rows = [r for r in document["rows"] if isinstance(r, dict) and r.get("step_ms") is not None and not r.get("error")]
    candidates = [r for r in rows if _deployable(r)] or rows
    best: dict = min(candidates, key=lambda r: r["step_ms"])
    preset = document.get("preset")
    comparable = preset == model and not document.get("reduced", False)
    note: Optional[str] = None
    if not comparable:
        note = (
            f"the GPU reference measured {preset!r}{' (reduced CPU test mode)' if document.get('reduced') else ''} "
            f"on {document.get('device')}, the bundles are {model!r}: no on-device/GPU ratio"
        )
    return {
        "file": file_name,
        "device": document.get("device"),
        "device_type": document.get("device_type"),
        "preset": preset,
        "steps_run": document.get("steps_run"),
        "row": {key: best.get(key) for key in ("graphs", "dtype", "fp32_lambda", "mode")},
        "step_ms": float(best["step_ms"]),
        "inpaint_ms": None if best.get("inpaint_ms") is None else float(best["inpaint_ms"]),
        "comparable": comparable,
        "note": note,
    }
