"""Timing a callable and summarising the samples (p50, p90, min, mean), in milliseconds."""
from __future__ import annotations

import dataclasses
import time
from typing import Callable


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclasses.dataclass
class LatencyStats:
    p50_ms: float
    p90_ms: float
    min_ms: float
    mean_ms: float
    count: int

    @classmethod
    def from_seconds(cls, seconds: list[float]) -> "LatencyStats":
        ms = [s * 1000.0 for s in seconds]
        return cls(percentile(ms, 50), percentile(ms, 90), min(ms), sum(ms) / len(ms), len(ms))

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


def time_calls(call: Callable[[int], object], warmup: int, count: int, tick: Callable[[], None] = lambda: None) -> LatencyStats:
    """Run `call(i)` `warmup` times untimed, then `count` times timed one by one (wall clock)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    for i in range(warmup):
        call(i)
        tick()
    seconds = []
    for i in range(warmup, warmup + count):
        start = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - start)
        tick()
    return LatencyStats.from_seconds(seconds)
