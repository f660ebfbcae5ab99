"""Checkpoints that resume a run exactly (modules, optimizer, RNG streams, step) and the CSV training log."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import torch

from edge_sdk.atomic_files import write_atomic
from edge_sdk.errors import CheckpointError


def save_training_state(path: Path, modules: dict, optimizer, generator: torch.Generator, **extra) -> None:
    """Write atomically: a run killed mid-save keeps its previous checkpoint."""
    state = {
        "modules": {name: module.state_dict() for name, module in modules.items() if module is not None},
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "extra": extra,
    }
    write_atomic(path, lambda temporary: torch.save(state, temporary))


def load_training_state(path: Path, modules: dict, optimizer, generator: torch.Generator) -> dict:
    """Restore in place; returns the extra fields saved with the state (step, …)."""
    try:
        # numpy's RNG state is a plain dict of ints and strings: allowed by weights_only.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, never a traceback
        raise CheckpointError(f"cannot resume from {path}: {str(exc).splitlines()[0]}") from None
    for name, module in modules.items():
        if module is None:
            continue
        if name not in state["modules"]:
            raise CheckpointError(f"{path} has no '{name}' state: it was written by a different training setup")
        module.load_state_dict(state["modules"][name])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["extra"]


class CsvLog:
    """Append-only CSV; a resumed run drops rows past the checkpoint's step so the log has no duplicates."""

    def __init__(self, path: Path, columns: list[str], resume_step: Optional[int] = None):
        self.path = path
        self.columns = columns
        if path.is_file() and resume_step is not None:
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        elif not path.is_file():
            with path.open("w", newline="") as f:
                csv.DictWriter(f, columns).writeheader()

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )

    def read(self) -> list[dict]:
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))


def plot_log(log_path: Path, png_path: Path, columns: list[str]) -> None:
    """Loss curves from the CSV log (log scale), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with log_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    for column in columns:
        values = [float(r[column]) for r in rows if r.get(column) not in (None, "")]
        if values and len(values) == len(steps) and all(v > 0 for v in values):
            ax.plot(steps, values, label=column)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend()
    fig.tight_layout()
    write_atomic(png_path, lambda temporary: fig.savefig(temporary, dpi=100, format="png"))
    plt.close(fig)
