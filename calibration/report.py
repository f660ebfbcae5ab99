"""The drift report: report.json, report.md, grid.png (fp32 vs quantized) and drift.png (error per step).

The folder is written next to its destination and renamed into place, so a report is complete or absent.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageDraw

from edge_sdk.atomic_files import publish_folder

GRID_TILE = 256
DIFF_GAIN = 10  # |quantized − fp32| × 10 in the third column, so small differences are visible
MARKDOWN_SENSITIVITY_ROWS = 25


def write_report(
    report_dir: Union[str, Path],
    report: dict,
    names: Sequence[str],
    reference_images: Sequence[torch.Tensor],
    quantized_images: Sequence[torch.Tensor],
) -> Path:
    """Write the four report files into `report_dir` (replacing an older report there)."""

    def build(folder: Path) -> None:
        (folder / "report.json").write_text(json.dumps(_finite(report), indent=2) + "\n", encoding="utf-8")
        (folder / "report.md").write_text(markdown(report), encoding="utf-8")
        grid(names, reference_images, quantized_images).save(folder / "grid.png")
        drift_plot(report["per_step_rel_err"], folder / "drift.png")

    return publish_folder(build, report_dir)


def markdown(report: dict) -> str:
    counts = report["precision_counts"]
    lines = [
        "# Calibration drift report",
        "",
        f"Quantized step graph against the fp32 pipeline on {len(report['per_image'])} image(s) "
        f"({report['settings']['record']['steps']} DDIM steps, guidance {report['settings']['record']['guidance_scale']}).",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| final-image PSNR, whole image | {_db(report['psnr_db'])} |",
        f"| final-image PSNR, inside the hole | {_db(report['psnr_hole_db'])} |",
        f"| SSIM, whole image | {report['ssim']:.4f} |",
        f"| SSIM, inside the hole | {report['ssim_hole']:.4f} |",
        f"| target (whole image) | {_db(report['target_psnr_db'])}: {'met' if report['meets_target'] else 'NOT met'} |",
        f"| layers | {counts.get('int8', 0)} int8, {counts.get('w8', 0)} w8, {counts.get('fp16', 0)} fp16, "
        f"{counts.get('fp32', 0)} fp32 |",
        f"| observer | {report['settings']['policy']['observer']} |",
        f"| calibration samples | {report['calibration_samples']} step inputs (both CFG branches each) |",
        f"| data hash | `{report['data_hash'][:16]}…` |",
        "",
        "## Drift per step",
        "",
        "Relative error against the fp32 run, free-running (each run feeds its own latents forward).",
        "",
        "| step | timestep | latent | ε |",
        "| --- | --- | --- | --- |",
    ]
    for row in report["per_step_rel_err"]:
        lines.append(f"| {row['step']} | {row['timestep']} | {row['latent']:.2e} | {row['epsilon']:.2e} |")
    lines += ["", "## Per image", "", "| image | PSNR | PSNR hole | SSIM | SSIM hole |", "| --- | --- | --- | --- | --- |"]
    for row in report["per_image"]:
        lines.append(
            f"| {row['name']} | {_db(row['psnr_db'])} | {_db(row['psnr_hole_db'])} | {row['ssim']:.4f} | {row['ssim_hole']:.4f} |"
        )
    lines += [
        "",
        "## Layer sensitivity",
        "",
        "Most sensitive first. *local*: relative error of the layer's own output with that layer alone quantized "
        "(fp32 inputs); *ε*: relative error of the guided ε with that layer alone in int8 (measured for the "
        f"{report['search']['epsilon_layers']} layers with the largest local error).",
        "",
        "| rank | layer | local int8 | local w8 | ε int8 | chosen |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    chosen = report["precisions"]
    for rank, row in enumerate(report["sensitivity"][:MARKDOWN_SENSITIVITY_ROWS], start=1):
        eps = f"{row['epsilon_int8']:.2e}" if row["epsilon_int8"] is not None else "–"
        lines.append(f"| {rank} | `{row['name']}` | {row['local_int8']:.2e} | {row['local_w8']:.2e} | {eps} | {chosen[row['name']]} |")
    if len(report["sensitivity"]) > MARKDOWN_SENSITIVITY_ROWS:
        lines.append(f"| … | {len(report['sensitivity']) - MARKDOWN_SENSITIVITY_ROWS} more in report.json | | | | |")
    lines += [
        "",
        "## Search",
        "",
        "Configurations evaluated (ranked layers `[0, fp16)` in fp16, `[fp16, w8)` in w8, the rest int8):",
        "",
        "| fp16 | w8 | PSNR | meets target |",
        "| --- | --- | --- | --- |",
    ]
    for row in report["search"]["evaluations"]:
        lines.append(f"| {row['fp16']} | {row['w8']} | {_db(row['psnr_db'])} | {'yes' if row['meets_target'] else 'no'} |")
    if report["search"]["budget_exhausted"]:
        lines.append("")
        lines.append("The evaluation budget ran out before the search finished: the choice is the best configuration seen.")
    lines += ["", "## Kept out of int8", "", "| layer or part | reason |", "| --- | --- |"]
    for item in report["excluded"]:
        lines.append(f"| `{item['name']}` | {item['reason']} |")
    lines += ["", "## Time", "", "| phase | seconds |", "| --- | --- |"]
    for phase, seconds in report["timings_s"].items():
        lines.append(f"| {phase} | {seconds:.1f} |")
    for note in report.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def grid(names: Sequence[str], reference: Sequence[torch.Tensor], quantized: Sequence[torch.Tensor]) -> Image.Image:
    """One row per image: fp32 result, quantized result, |difference| × DIFF_GAIN."""
    header = 18
    rows = len(names)
    canvas = Image.new("RGB", (3 * GRID_TILE, rows * (GRID_TILE + header)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for row, (name, expected, got) in enumerate(zip(names, reference, quantized)):
        top = row * (GRID_TILE + header)
        difference = ((got - expected).abs() * DIFF_GAIN).clamp(0, 1)
        for column, (label, tensor) in enumerate(
            (("fp32", expected), ("quantized", got), (f"|diff| x{DIFF_GAIN}", difference))
        ):
            canvas.paste(_tile(tensor), (column * GRID_TILE, top + header))
            draw.text((column * GRID_TILE + 4, top + 3), f"{name}: {label}", fill=(0, 0, 0))
    return canvas


def drift_plot(per_step: Sequence[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    steps = [row["step"] for row in per_step]
    figure, axis = pyplot.subplots(figsize=(6, 3.5), dpi=100)
    axis.plot(steps, [max(row["latent"], 1e-12) for row in per_step], marker="o", label="latent")
    axis.plot(steps, [max(row["epsilon"], 1e-12) for row in per_step], marker="s", label="ε (guided)")
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("relative error vs fp32")
    axis.set_title("Drift of the quantized step graph")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _tile(image: torch.Tensor) -> Image.Image:
    pixels = (image[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(pixels)).resize((GRID_TILE, GRID_TILE), Image.BILINEAR)


def _db(value: float) -> str:
    return "∞ dB" if math.isinf(value) else f"{value:.2f} dB"


def _finite(value):
    """JSON has no infinity: identical images (PSNR = ∞) are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
