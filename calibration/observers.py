"""Activation observers a recipe can name: how an int8 activation range is chosen from calibration data.

- ``minmax``: the full range seen (torchao's `MinMaxObserver`). Never clips; one outlier widens every step.
- ``percentile``: the range between two percentiles of everything seen (`PercentileObserver` below).
- ``mse``: the range that minimises the L2 quantization error of everything seen (torchao's
  `HistogramObserver`, ExecuTorch XNNPACK's default).

All of them accumulate over every calibration sample, so with samples from the whole trajectory the range
covers every timestep, not one.
"""
from __future__ import annotations

import torch
from torchao.quantization.pt2e.observer import HistogramObserver, MinMaxObserver

DEFAULT_PERCENTILE = 99.99


class PercentileObserver(HistogramObserver):
    """torchao's running histogram of everything seen, cut at the `percentile`-th and (100 − percentile)-th
    percentiles instead of the L2 search; zero stays inside the range as every affine int8 range needs."""

    def __init__(self, percentile: float = DEFAULT_PERCENTILE, **kwargs):
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        super().__init__(**kwargs)
        self.percentile = float(percentile)

    @torch.jit.export
    def calculate_qparams(self):
        if self.min_val == float("inf") and self.max_val == float("-inf"):
            return super().calculate_qparams()  # torchao's own warning and default qparams
        cumulative = torch.cumsum(self.histogram.double(), dim=0)
        total = float(cumulative[-1])
        if total == 0.0:
            return self._calculate_qparams(self.min_val, self.max_val)
        tail = (100.0 - self.percentile) / 100.0
        bin_width = (self.max_val - self.min_val) / self.bins
        # First bin whose cumulative share reaches the lower tail, last bin below the upper one.
        low_bin = int(torch.searchsorted(cumulative, torch.tensor([tail * total], dtype=torch.float64)))
        high_bin = int(torch.searchsorted(cumulative, torch.tensor([(1.0 - tail) * total], dtype=torch.float64)))
        low = self.min_val + bin_width * low_bin
        high = self.min_val + bin_width * min(high_bin + 1, self.bins)
        return self._calculate_qparams(low, high)


OBSERVERS = {
    "minmax": MinMaxObserver,
    "percentile": PercentileObserver,
    "mse": HistogramObserver,
}


def observer_class(name: str):
    try:
        return OBSERVERS[name]
    except KeyError:
        raise ValueError(f"unknown observer {name!r}; expected one of {', '.join(OBSERVERS)}") from None
