"""bench.png: per-step latency by bundle (p50 bar, min–p90 whisker), the eager reference and the GPU line."""
from __future__ import annotations

from pathlib import Path


def draw(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    from edge_sdk.bench.report_markdown import display_name

    entries = [result["reference"], *result["bundles"]]
    names = [display_name(e) for e in entries]
    p50 = [e["step"]["p50_ms"] for e in entries]
    low = [e["step"]["p50_ms"] - e["step"]["min_ms"] for e in entries]
    high = [e["step"]["p90_ms"] - e["step"]["p50_ms"] for e in entries]
    colors = ["#888888"] + [
        "#888888" if e["backend"] == "pytorch" else "#3b7dd8" if e["precision"] != "int8" else "#e0803a" for e in result["bundles"]
    ]

    figure, axis = plt.subplots(figsize=(9, 1.2 + 0.55 * len(entries)), dpi=110)
    positions = list(range(len(entries)))[::-1]
    axis.barh(positions, p50, xerr=[low, high], color=colors, capsize=3)
    for y, value, entry in zip(positions, p50, entries):
        speedup = entry["ratios"]["step_speedup_vs_eager"]
        label = f"{value:,.0f} ms" + (f"  ({speedup:.2f}× eager)" if entry is not entries[0] and speedup else "")
        axis.text(entry["step"]["p90_ms"], y, "  " + label, va="center", fontsize=8)  # right of the whisker
    axis.set_yticks(positions, names, fontsize=8)
    gpu = result.get("gpu_reference")
    if gpu and gpu.get("comparable"):
        axis.axvline(gpu["step_ms"], color="#2a9d4b", linestyle="--", label=f"GPU reference: {gpu['device']} {gpu['step_ms']:.1f} ms")
        axis.set_xscale("log")
        axis.legend(loc="lower right", fontsize=8)
    host = result["host"]
    axis.set_xlabel("one CFG denoising step, ms (bar p50, whisker min–p90)")
    axis.set_title(f"{result['model']['name']} per-step latency — {host['cpu']}, {host['logical_cores']} cores", fontsize=9)
    axis.set_xlim(right=max(p50) * (3.0 if axis.get_xscale() == "log" else 1.45))
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
