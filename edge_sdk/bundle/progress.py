"""Export progress: one line per stage. On a terminal each line is a live bar whose clock keeps running
through stages that print nothing for minutes (ExecuTorch's lowering); elsewhere a timestamped line."""
from __future__ import annotations

import threading
import time
from typing import Optional, TextIO

REFRESH_SECONDS = 0.5


class StageProgress:
    """Call with a stage's description to end the previous stage and start this one; `close()` at the end."""

    def __init__(self, stream: TextIO, live: Optional[bool] = None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.started = time.perf_counter()
        self._bar = None
        self._stop: Optional[threading.Event] = None

    def __call__(self, message: str) -> None:
        self._end_stage()
        stamp = f"[{time.perf_counter() - self.started:7.1f}s] {message}"
        if not self.live:
            print(stamp, file=self.stream, flush=True)
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=None, desc=stamp, bar_format="{desc}  {elapsed}", file=self.stream, leave=True)
        self._stop = threading.Event()
        bar, stop = self._bar, self._stop
        threading.Thread(target=lambda: self._tick(bar, stop), daemon=True).start()

    @staticmethod
    def _tick(bar, stop: threading.Event) -> None:
        while not stop.wait(REFRESH_SECONDS):
            bar.refresh()

    def _end_stage(self) -> None:
        if self._bar is not None:
            self._stop.set()
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._end_stage()
