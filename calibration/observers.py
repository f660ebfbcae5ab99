"""Activation observers a recipe can name: how an int8 activation range is chosen from calibration data.

- ``minmax``: the full range seen (torchao's `MinMaxObserver`). Never clips; one outlier widens every step.
- ``percentile``: the range between two percentiles of everything seen (`PercentileObserver` below).
- ``mse``: the range that minimises the L2 quantization error of everything seen (torchao's
  `HistogramObserver` search, ExecuTorch XNNPACK's default).

All of them accumulate over every calibration sample, so with samples from the whole trajectory the range
covers every timestep, not one.

The histogram observers bin a strided subsample of large activations (`SubsampledHistogramObserver`): on
the 0.2B model `torch.histc` over every element of ~500 activations cost 5 of a step's 14 s, while the
range search, which runs once at the end, only needs the shape of the distribution. The range itself
(the histogram's end points) still comes from every element.
"""
from __future__ import annotations

import torch
from torchao.quantization.pt2e.observer import HistogramObserver, MinMaxObserver

DEFAULT_PERCENTILE = 99.99
# Elements of one activation that go into the histogram; 2048 bins get ~32 samples each on average.
HISTOGRAM_SAMPLES = 1 << 16


class SubsampledHistogramObserver(HistogramObserver):
    """torchao's HistogramObserver, binning every k-th element of tensors above `HISTOGRAM_SAMPLES` elements
    over the range of all of them (torchao's own histogram bookkeeping: `reset_histogram`,
    `_combine_histograms`). Feeding the true extremes in as two extra samples would not do: against a
    subsample they weigh k times too much, and the L2 search then keeps the outliers in the range."""

    def forward(self, x_orig: torch.Tensor) -> torch.Tensor:
        flat = x_orig.detach().reshape(-1)
        if flat.numel() <= HISTOGRAM_SAMPLES:
            return super().forward(x_orig)
        low, high = torch.aminmax(flat)
        if not (torch.isfinite(low) and torch.isfinite(high)):
            return super().forward(x_orig)  # torchao's handling of infinities
        # An odd stride walks through every residue of the power-of-two spatial sizes (no aliasing
        # onto a few pixels or channels).
        sample = flat[:: (flat.numel() // HISTOGRAM_SAMPLES) | 1]
        if self.min_val == float("inf") or self.max_val == float("-inf"):
            self.reset_histogram(sample, low, high)
            return x_orig
        new_min, new_max = torch.min(self.min_val, low), torch.max(self.max_val, high)
        update = torch.histc(sample, self.bins, min=new_min, max=new_max)
        if new_min == self.min_val and new_max == self.max_val:
            combined = self.histogram + update
        else:
            combined = self._combine_histograms(self.histogram, self.min_val, self.max_val, update, new_min, new_max)
            self.min_val.copy_(new_min)
            self.max_val.copy_(new_max)
        self.histogram.resize_(combined.shape).copy_(combined)
        return x_orig


class PercentileObserver(SubsampledHistogramObserver):
    """The running histogram of everything seen, cut at the `percentile`-th and (100 − percentile)-th
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
    "mse": SubsampledHistogramObserver,
}


def observer_class(name: str):
    try:
        return OBSERVERS[name]
    except KeyError:
        raise ValueError(f"unknown observer {name!r}; expected one of {', '.join(OBSERVERS)}") from None
