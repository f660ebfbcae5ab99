"""The documented schema of bench.json (JSON Schema draft 2020-12), and validation against it.

`SCHEMA` is the source; benchmarks/bench_schema.json is the same document written out for tools in other
languages (`python -m edge_sdk.bench.schema > benchmarks/bench_schema.json`; a test keeps them equal).
Version 1. A reader checks `schema_version` first; fields are only ever added within a version.
"""
from __future__ import annotations

import json
import sys

from edge_sdk.errors import EdgeSDKError

SCHEMA_NAME = "moebius-edge/bench"
SCHEMA_VERSION = 1

_number = {"type": "number"}
_nullable_number = {"type": ["number", "null"]}
_latency = {
    "type": "object",
    "description": "Wall-clock latency of one call in milliseconds over `count` timed calls after warm-up.",
    "required": ["p50_ms", "p90_ms", "min_ms", "mean_ms", "count"],
    "properties": {
        "p50_ms": _number, "p90_ms": _number, "min_ms": _number, "mean_ms": _number,
        "count": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
_quality = {
    "type": ["object", "null"],
    "description": "Final-image PSNR (8-bit, dB) against the fp32 reference pipeline on the bundled samples; "
    "null for the reference itself. A null PSNR with identical=true means bit-identical images.",
    "required": ["samples", "psnr_db", "psnr_hole_db"],
    "properties": {
        "samples": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sample", "psnr_db", "psnr_hole_db", "identical"],
                "properties": {
                    "sample": {"type": "string"},
                    "psnr_db": _nullable_number,
                    "psnr_hole_db": _nullable_number,
                    "identical": {"type": "boolean"},
                },
            },
        },
        "psnr_db": _nullable_number,
        "psnr_hole_db": _nullable_number,
    },
}
_entry = {
    "type": "object",
    "description": "One measured configuration: a bundle, or the PyTorch eager fp32 reference (backend 'pytorch').",
    "required": [
        "name", "backend", "precision", "graph_precisions", "size_bytes", "load_s", "encode", "step", "decode",
        "end_to_end_s", "end_to_end_measured", "steps_run", "test_vector_error", "peak_rss_mb", "baseline_rss_mb", "threads", "quality", "ratios",
    ],
    "properties": {
        "name": {"type": "string", "description": "bundle folder name, or 'pytorch-eager-fp32'"},
        "runner": {"enum": ["python", "cpp"], "description": "what ran it: the Python SDK (edge_sdk.load; the reference: PyTorch), or the C++ runtime's moebius_edge_run (its own process: load_s is its open, peak_rss_mb its own peak, baseline_rss_mb its resident set before open)"},
        "device": {"type": "string", "description": "farm runs only: the device (Ray resource device:NAME) that measured this row; its ratios are against that device's own eager reference"},
        "backend": {"type": "string"},
        "precision": {"type": "string"},
        "graph_precisions": {"type": "object", "additionalProperties": {"type": "string"}},
        "size_bytes": {"type": ["integer", "null"], "description": "bundle size on disk (all listed files); for the reference, fp32 parameters + buffers"},
        "load_s": {"type": "number", "description": "hash check + runtime load (bundle) or model build (reference)"},
        "encode": _latency,
        "step": {**_latency, "description": "one CFG denoising step (batch of 2, guidance, DDIM update)"},
        "decode": _latency,
        "end_to_end_s": {"type": ["number", "null"], "description": "seconds for one whole inpaint of the first bundled sample (load, crop, encode, every baked step, decode, paste) when end_to_end_measured; else encode + steps_run × step + decode medians"},
        "end_to_end_measured": {"type": "boolean"},
        "test_vector_error": {
            "type": ["object", "null"],
            "description": "relative error of the bundle's step and decode on its embedded test vector against the fp32 graphs, as measured at export (null: not measured, or the reference)",
            "additionalProperties": {"type": "number"},
        },
        "steps_run": {"type": "integer", "description": "baked steps in one inpaint"},
        "peak_rss_mb": {"type": ["number", "null"], "description": "peak resident set (MiB) of a child process that loads and runs it"},
        "baseline_rss_mb": {"type": ["number", "null"], "description": "resident set of that child before loading (interpreter + runtime libraries)"},
        "threads": {
            "type": "object",
            "required": ["requested", "runtime"],
            "properties": {"requested": {"type": ["integer", "null"]}, "runtime": {"type": ["integer", "null"]}},
        },
        "quality": _quality,
        "ratios": {
            "type": "object",
            "required": ["step_speedup_vs_eager", "end_to_end_speedup_vs_eager", "step_vs_gpu"],
            "properties": {
                "step_speedup_vs_eager": {**_nullable_number, "description": "eager step p50 / this step p50 (> 1: faster than PyTorch eager fp32)"},
                "end_to_end_speedup_vs_eager": _nullable_number,
                "step_vs_gpu": {**_nullable_number, "description": "this step p50 / GPU reference step (how many times slower than the GPU)"},
            },
        },
    },
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://moebius-edge/schemas/bench.json",
    "title": "Moebius Edge benchmark results (bench.json)",
    "type": "object",
    "required": ["schema", "schema_version", "created", "host", "toolchain", "settings", "model", "reference", "bundles", "gpu_reference", "notes"],
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "schema_version": {"const": SCHEMA_VERSION},
        "created": {"type": "string", "description": "UTC, ISO 8601"},
        "host": {
            "type": "object",
            "required": ["cpu", "logical_cores", "os", "load_average_start", "load_average_end"],
            "properties": {
                "cpu": {"type": "string"},
                "logical_cores": {"type": ["integer", "null"]},
                "memory_gb": _nullable_number,
                "gpu": {"type": ["string", "null"]},
                "os": {"type": "string"},
                "load_average_start": {"type": ["array", "null"], "items": _number},
                "load_average_end": {"type": ["array", "null"], "items": _number},
            },
        },
        "toolchain": {"type": "object", "additionalProperties": {"type": "string"}},
        "settings": {
            "type": "object",
            "required": ["steps", "warmup", "threads", "quality_samples"],
            "properties": {
                "steps": {"type": "integer", "minimum": 1},
                "warmup": {"type": "integer", "minimum": 0},
                "threads": {"type": ["integer", "null"]},
                "quality_samples": {"type": "integer", "minimum": 0},
            },
        },
        "model": {
            "type": "object",
            "required": ["name", "random_weights", "image_size", "timesteps", "strength", "guidance_scale"],
            "properties": {
                "name": {"type": "string"},
                "random_weights": {"type": "boolean"},
                "image_size": {"type": "integer"},
                "timesteps": {"type": "array", "items": {"type": "integer"}},
                "strength": _number,
                "guidance_scale": _number,
            },
        },
        "reference": _entry,
        "bundles": {"type": "array", "items": _entry, "minItems": 1},
        "gpu_reference": {
            "type": ["object", "null"],
            "required": ["file", "device", "preset", "row", "step_ms", "inpaint_ms", "comparable"],
            "properties": {
                "file": {"type": "string"},
                "device": {"type": ["string", "null"]},
                "preset": {"type": ["string", "null"]},
                "row": {"type": "object"},
                "step_ms": _number,
                "inpaint_ms": _nullable_number,
                "comparable": {"type": "boolean"},
                "note": {"type": ["string", "null"]},
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}},
        "farm": {
            "type": "array",
            "description": "farm runs only (`bench --ray-address`): every device asked for, its host or why it failed",
            "items": {
                "type": "object",
                "required": ["device", "status", "error", "host"],
                "properties": {
                    "device": {"type": "string"},
                    "status": {"enum": ["ok", "failed"]},
                    "error": {"type": ["string", "null"]},
                    "host": {"type": ["object", "null"]},
                },
            },
        },
    },
}


class BenchSchemaError(EdgeSDKError):
    """A bench.json that does not follow the schema."""


def validate(document: dict) -> None:
    """Raise BenchSchemaError naming the first violation (JSON Schema validation with `jsonschema`)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise BenchSchemaError(f"bench.json does not follow schema version {SCHEMA_VERSION} at {where}: {first.message}")


def schema_text() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
