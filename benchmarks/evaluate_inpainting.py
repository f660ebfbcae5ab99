"""Held-out inpainting quality: PSNR inside the hole of a model's fills vs a mean-colour fill and OpenCV's Telea.

    python benchmarks/evaluate_inpainting.py --photos PHOTO_DIR [--model nano] [--out benchmarks/results]

The held-out photos are the ones `edge_sdk.train.data.split_photos` keeps out of training (every
7th of the sorted folder). Each is shrunk so its short side is 576 px and centre-cropped to 512²; each gets
a box mask and a brush-stroke mask from the calibration mask generator (fixed seeds). Writes
`<model>_inpainting.json` and `.md`.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from edge_sdk.mask_generator import generate_mask
from edge_sdk.hole_fill import pyramid_fill
from edge_sdk.pipeline import InpaintPipeline
from edge_sdk.train.data import list_photos, split_photos

SIDE = 512
SHORT_SIDE = 576
MASKS = (("box", (0.1, 0.2)), ("medium", (0.1, 0.2)))  # a removed object; a scribbled-over stroke
TELEA_RADIUS = 5


def evaluation_crop(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    scale = SHORT_SIDE / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    left, top = (image.width - SIDE) // 2, (image.height - SIDE) // 2
    return image.crop((left, top, left + SIDE, top + SIDE))


def hole_psnr(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    err = (result.astype(np.float64) - truth.astype(np.float64))[hole]
    return float(10 * np.log10(255.0**2 / max(np.mean(err**2), 1e-10)))


def mean_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[hole] = image[~hole].mean(axis=0).round().astype(np.uint8)
    return out


def telea_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    bgr = np.ascontiguousarray(image[..., ::-1])
    filled = cv2.inpaint(bgr, hole.astype(np.uint8) * 255, TELEA_RADIUS, cv2.INPAINT_TELEA)
    return np.ascontiguousarray(filled[..., ::-1])


def pyramid_fill_image(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The pull-push fill `hole_fill: pyramid` models start from (edge_sdk.hole_fill), with no model."""
    pixels = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    filled = pyramid_fill(pixels, torch.from_numpy(hole)[None, None].float())
    return ((filled[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--model", default="nano")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--strength", type=float, help="default: the model's")
    parser.add_argument("--hold-out-every", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--pictures", type=Path, help="also write result panels (truth | mean | Telea | pyramid | model) here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, held = split_photos(list_photos(args.photos), args.hold_out_every)
    pipe = InpaintPipeline.from_preset(args.model)
    strength = pipe.default_strength if args.strength is None else args.strength
    rows = []
    for p_index, path in enumerate(held):
        truth_image = evaluation_crop(path)
        truth = np.asarray(truth_image)
        for m_index, (kind, ratio_bin) in enumerate(MASKS):
            hole = generate_mask(SIDE, kind, ratio_bin, seed=1000 * p_index + m_index) > 127
            started = time.perf_counter()
            model = np.asarray(
                pipe(truth_image, hole, steps=args.steps, guidance_scale=args.guidance, strength=strength, seed=p_index, progress=False)
            )
            seconds = time.perf_counter() - started
            fills = {"mean": mean_fill(truth, hole), "telea": telea_fill(truth, hole), "pyramid": pyramid_fill_image(truth, hole), args.model: model}
            row = {"photo": path.name, "mask": kind, "hole": float(hole.mean()), "seconds": seconds}
            row.update({f"psnr_{name}": hole_psnr(fill, truth, hole) for name, fill in fills.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.pictures:
                args.pictures.mkdir(parents=True, exist_ok=True)
                panel = np.concatenate([truth, fills["mean"], fills["telea"], fills["pyramid"], model], axis=1)
                Image.fromarray(panel).save(args.pictures / f"{path.stem}_{kind}.jpg", quality=85)

    methods = ["mean", "telea", "pyramid", args.model]
    summary = {}
    for kind in ["all"] + [k for k, _ in MASKS]:
        selected = [r for r in rows if kind == "all" or r["mask"] == kind]
        summary[kind] = {m: float(np.mean([r[f"psnr_{m}"] for r in selected])) for m in methods}
        summary[kind]["gain_over_mean_db"] = summary[kind][args.model] - summary[kind]["mean"]
    report = {
        "model": args.model,
        "steps": args.steps,
        "guidance": args.guidance,
        "strength": strength,
        "machine": f"{platform.machine()} CPU, torch threads {args.threads}",
        "held_out_photos": [p.name for p in held],
        "crop": f"short side {SHORT_SIDE}px, centre {SIDE}²",
        "masks": [f"{k} {b[0]:.0%}-{b[1]:.0%}" for k, b in MASKS],
        "summary_psnr_db_in_hole": summary,
        "cases": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.model}_inpainting"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Held-out inpainting quality: `{args.model}`",
        "",
        f"PSNR (dB) inside the hole, {len(held)} held-out photos × {len(MASKS)} masks, {args.steps} steps, guidance {args.guidance}, "
        f"strength {strength}. Written by `benchmarks/evaluate_inpainting.py`; mean = the hole filled with the mean colour of the "
        f"known pixels; Telea = OpenCV `INPAINT_TELEA`, radius {TELEA_RADIUS}; pyramid = the pull-push fill of "
        f"`edge_sdk/hole_fill.py` alone (what a `hole_fill: pyramid` model is conditioned on and starts from).",
        "",
        f"| masks | mean fill | Telea | pyramid | {args.model} | {args.model} − mean |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, s in summary.items():
        lines.append(f"| {kind} | {s['mean']:.2f} | {s['telea']:.2f} | {s['pyramid']:.2f} | {s[args.model]:.2f} | {s['gain_over_mean_db']:+.2f} |")
    lines += ["", "| photo | mask | hole | mean | Telea | pyramid | " + args.model + " |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['photo']} | {r['mask']} | {r['hole']:.1%} | {r['psnr_mean']:.2f} | {r['psnr_telea']:.2f} | {r['psnr_pyramid']:.2f} "
            f"| {r['psnr_' + args.model]:.2f} |"
        )
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / stem}.json and .md")


if __name__ == "__main__":
    main()
