"""bench.md: the one table an app developer reads to choose a backend and a precision."""
from __future__ import annotations

COLUMNS = (
    "bundle", "backend", "precision", "size MB", "load s", "encode ms", "step p50 ms", "step p90 ms", "step min ms",
    "decode ms", "end-to-end s", "peak RSS MB", "step speedup vs eager", "step vs GPU", "PSNR dB", "PSNR hole dB", "step rel err",
)


def _cell(value, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _psnr(entry: dict, key: str) -> str:
    quality = entry.get("quality")
    if entry["backend"] == "pytorch":
        return "ref"
    if quality is None:
        return "–"
    if quality[key] is None and quality["samples"] and all(s["identical"] for s in quality["samples"]):
        return "identical"
    return _cell(quality[key])


def display_name(entry: dict) -> str:
    """The row's name, with the C++ runner's mark and the device that measured it in a farm run."""
    name = entry["name"] + (" (C++ runner)" if entry.get("runner") == "cpp" else "")
    return f"{name} @ {entry['device']}" if entry.get("device") else name


def failed_row(device: dict) -> str:
    """A farm device that measured nothing: its name and why, across the table."""
    return "| " + " | ".join([f"– @ {device['device']}", f"failed: {device['error']}"] + ["–"] * (len(COLUMNS) - 2)) + " |"


def table_row(entry: dict) -> str:
    ratios = entry["ratios"]
    size = None if entry["size_bytes"] is None else entry["size_bytes"] / 1e6
    cells = [
        display_name(entry), entry["backend"], entry["precision"], _cell(size), _cell(entry["load_s"], "{:.2f}"),
        _cell(entry["encode"]["p50_ms"], "{:.0f}"), _cell(entry["step"]["p50_ms"], "{:.0f}"), _cell(entry["step"]["p90_ms"], "{:.0f}"),
        _cell(entry["step"]["min_ms"], "{:.0f}"), _cell(entry["decode"]["p50_ms"], "{:.0f}"), _cell(entry["end_to_end_s"], "{:.1f}") + ("" if entry["end_to_end_measured"] else "*"),
        _cell(entry["peak_rss_mb"], "{:.0f}"), _cell(ratios["step_speedup_vs_eager"], "{:.2f}×"),
        _cell(ratios["step_vs_gpu"], "{:.0f}×"), _psnr(entry, "psnr_db"), _psnr(entry, "psnr_hole_db"),
        "ref" if entry["backend"] == "pytorch" else _cell((entry.get("test_vector_error") or {}).get("step"), "{:.1e}"),
    ]
    return "| " + " | ".join(cells) + " |"


def render(result: dict) -> str:
    host, settings, model = result["host"], result["settings"], result["model"]
    load = lambda key: ", ".join(f"{x:.2f}" for x in host[key]) if host.get(key) else "unknown"
    lines = [
        f"# Benchmark: {model['name']}{' (random weights)' if model['random_weights'] else ''}, {len(model['timesteps'])} steps",
        "",
        f"Host: {host['cpu']}, {host['logical_cores']} logical cores, {host.get('memory_gb')} GB, "
        f"GPU: {host.get('gpu') or 'none'}, {host['os']}. "
        f"Load average (1/5/15 min) at start {load('load_average_start')}, at end {load('load_average_end')}.",
        f"Toolchain: {', '.join(f'{k} {v}' for k, v in result['toolchain'].items())}.",
        f"Settings: {settings['steps']} timed steps after {settings['warmup']} warm-up, threads "
        f"{settings['threads'] if settings['threads'] is not None else 'runtime default'}, "
        f"PSNR on {settings['quality_samples']} bundled sample(s) against the fp32 reference pipeline.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
        table_row(result["reference"]),
        *[table_row(entry) for entry in result["bundles"]],
        *[failed_row(device) for device in result.get("farm", []) if device["status"] == "failed"],
        "",
        "Speedup = PyTorch eager fp32 step p50 / the row's step p50, measured in the same run on the same host. "
        "End-to-end = one whole inpaint of the first sample (* = no sample inpainted: encode + steps × step + decode medians). "
        "Peak RSS from a separate process per row. Step rel err = the bundle's step on its embedded test vector against "
        "the fp32 graphs, measured at export.",
    ]
    gpu = result.get("gpu_reference")
    if gpu:
        row = gpu["row"]
        lines.append(
            f"GPU reference: {gpu['device']}, {gpu['preset']}, {row.get('graphs')} {row.get('dtype')} {row.get('mode')}: "
            f"{gpu['step_ms']:.2f} ms per step" + (f" ({gpu['note']})" if gpu.get("note") else "") + "."
        )
    lines.extend(f"Note: {note}" for note in result["notes"])
    return "\n".join(lines) + "\n"
