"""bench.json: the results, validated against the schema before anything is written."""
from __future__ import annotations

import json
from pathlib import Path

from edge_sdk.bench.schema import validate
from edge_sdk.atomic_files import write_text_atomic


def write_json(result: dict, path: Path) -> Path:
    validate(result)
    return write_text_atomic(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
