"""`results.parquet` of a batch job, kept as a journal so an interrupted job resumes.

While a job runs, every result the driver receives goes into `.batch-state/part-NNNNN.parquet` (written
to a temporary name and renamed: a part is whole or absent). At the end the parts and any earlier
`results.parquet` are merged into a new `results.parquet` (one row per output, the newest result wins)
and the parts are removed. A rerun skips the rows whose last result is "ok" and whose image exists.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from edge_sdk.atomic_files import write_atomic

RESULTS_NAME = "results.parquet"
STATE_DIR = ".batch-state"
STATUS_OK = "ok"
STATUS_ERROR = "error"
# Column order of results.parquet (metric columns are null where not measured; `worker` is HOST:PID of the
# actor, `finished_at` the Unix time its row ended: throughput over time without a log).
COLUMNS = (
    "row_id", "image", "mask", "output", "seed", "status", "error", "seconds", "hole_share",
    "psnr_hole_vs_original", "ssim_hole_vs_original", "psnr_hole_vs_reference", "ssim_hole_vs_reference", "worker", "finished_at",
)


class ResultJournal:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.state_dir = self.out_dir / STATE_DIR
        self._parts = len(list(self.state_dir.glob("part-*.parquet"))) if self.state_dir.is_dir() else 0

    def previous(self) -> dict[str, dict]:
        """The latest earlier result of every output (results.parquet, then the parts in order)."""
        latest: dict[str, dict] = {}
        sources = [self.out_dir / RESULTS_NAME] + sorted(self.state_dir.glob("part-*.parquet")) if self.state_dir.is_dir() else [self.out_dir / RESULTS_NAME]
        for path in sources:
            if path.is_file():
                for row in _read(path):
                    latest[row["output"]] = row
        return latest

    def done(self) -> set[str]:
        """Outputs already written by an earlier run (result "ok" and the image on disk)."""
        return {output for output, row in self.previous().items() if row["status"] == STATUS_OK and (self.out_dir / output).is_file()}

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._parts += 1
        path = self.state_dir / f"part-{self._parts:05d}.parquet"
        write_atomic(path, lambda temporary: _write(rows, temporary))

    def finish(self) -> Path:
        """Merge everything into results.parquet (sorted by row id) and drop the parts."""
        rows = sorted(self.previous().values(), key=lambda row: (row["row_id"], row["output"]))
        path = write_atomic(self.out_dir / RESULTS_NAME, lambda temporary: _write(rows, temporary))
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return path


def _write(rows: list[dict], path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    schema = pyarrow.schema([
        ("row_id", pyarrow.int64()), ("image", pyarrow.string()), ("mask", pyarrow.string()), ("output", pyarrow.string()),
        ("seed", pyarrow.int64()), ("status", pyarrow.string()), ("error", pyarrow.string()), ("seconds", pyarrow.float64()),
        ("hole_share", pyarrow.float64()), ("psnr_hole_vs_original", pyarrow.float64()), ("ssim_hole_vs_original", pyarrow.float64()),
        ("psnr_hole_vs_reference", pyarrow.float64()), ("ssim_hole_vs_reference", pyarrow.float64()), ("worker", pyarrow.string()),
        ("finished_at", pyarrow.float64()),
    ])
    pyarrow.parquet.write_table(pyarrow.table(columns, schema=schema), path)


def _read(path: Path) -> list[dict]:
    import pyarrow.parquet

    return pyarrow.parquet.read_table(path).to_pylist()


def read_results(out_dir: Path) -> list[dict]:
    """The rows of OUT/results.parquet."""
    return _read(Path(out_dir) / RESULTS_NAME)
