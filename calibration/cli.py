"""The `calibrate` and `masks` subcommands of `moebius-edge` (registered by edge_sdk.cli).

Kept light at import: the handlers import torch and the toolchains only when they run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_sdk.cli_shared import add_threads_argument
from edge_sdk.errors import EdgeSDKError


def add_calibrate_command(commands, add_model_arguments, make_pipeline) -> None:
    parser = commands.add_parser(
        "calibrate",
        help="int8 calibration of the denoiser's step graph: a recipe (JSON) and a drift report",
        description="Record fp32 sampling trajectories, rank layers by int8 sensitivity, choose the mixed precision "
        "that meets the target PSNR with the most layers in int8, and write the recipe and a drift report.",
    )
    add_model_arguments(parser)
    parser.add_argument("--images", type=Path, help="folder of calibration images (default: the bundled sample photos)")
    parser.add_argument("--masks", type=Path, help="folder of masks named like the images (default: seeded generated masks)")
    parser.add_argument("--num-images", type=int, default=8, help="calibration images (default 8)")
    parser.add_argument("--steps-per-image", type=int, default=10, help="recorded steps per image, spread over the trajectory (default 10)")
    parser.add_argument("--steps", type=int, default=20, help="the deployment's DDIM steps (default 20)")
    parser.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale (default 2.5)")
    parser.add_argument("--strength", type=float, help="the deployment's strength (default: the model's, 1.0 but for nano)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated masks and the noise (default 0)")
    # Checked by CalibrationOptions.check: naming the choices here would import torchao for every --help.
    parser.add_argument("--observer", default="mse", help="activation range observer: minmax, percentile or mse (default mse)")
    parser.add_argument("--target-psnr", type=float, default=35.0, help="final-image PSNR against fp32 to meet, dB (default 35)")
    parser.add_argument("--eval-images", type=int, default=2, help="images the search and report compare (default 2)")
    parser.add_argument("--sensitivity-samples", type=int, default=4, help="samples for the sensitivity analysis (default 4)")
    parser.add_argument("--epsilon-layers", type=int, default=16, help="layers whose ε error is measured (default 16)")
    parser.add_argument("--max-evaluations", type=int, default=12, help="final-image evaluations the search may spend (default 12)")
    parser.add_argument("--cache-dir", type=Path, help="where calibration sets are cached (default ~/.cache/moebius-edge/calibration)")
    parser.add_argument("--no-cache", action="store_true", help="record the calibration set again and do not keep it")
    parser.add_argument("-o", "--output", type=Path, required=True, help="recipe file to write (JSON)")
    parser.add_argument("--report", type=Path, required=True, help="folder for report.json, report.md, grid.png, drift.png")
    add_threads_argument(parser)
    add_distributed_options(parser)
    parser.set_defaults(handler=lambda args: cmd_calibrate(args, make_pipeline))


def add_distributed_options(parser) -> None:
    parser.add_argument("--ray-address", metavar="ADDRESS", help="record on a Ray cluster ('auto' or HOST:PORT; "
                        "default: in this process); the merged statistics give the single-process recipe")
    parser.add_argument("--workers", type=int, help="recording workers with --ray-address (default: the cluster's CPUs / --threads; "
                        "with --ray-address, --threads is each worker's torch threads and CPUs, default 1)")


def cmd_calibrate(args, make_pipeline) -> None:
    from edge_sdk.calibration.calibrate import CalibrationOptions, calibrate
    from edge_sdk.calibration.dataset import default_cache_dir
    from edge_sdk.cli_shared import check_sampling_arguments, model_strength, use_threads

    check_sampling_arguments(args)
    if not args.output.parent.is_dir():
        raise EdgeSDKError(f"output folder does not exist: {args.output.parent}")
    if not args.report.parent.is_dir():
        raise EdgeSDKError(f"report folder's parent does not exist: {args.report.parent}")
    if args.report.exists() and not args.report.is_dir():
        raise EdgeSDKError(f"--report must be a folder, and {args.report} is a file")
    options = CalibrationOptions(
        num_images=args.num_images,
        steps_per_image=args.steps_per_image,
        steps=args.steps,
        strength=model_strength(args) if args.strength is None else args.strength,
        guidance_scale=args.guidance,
        seed=args.seed,
        images_dir=args.images,
        masks_dir=args.masks,
        observer=args.observer,
        target_psnr_db=args.target_psnr,
        eval_images=args.eval_images,
        sensitivity_samples=args.sensitivity_samples,
        epsilon_layers=args.epsilon_layers,
        max_evaluations=args.max_evaluations,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        progress=sys.stderr.isatty(),
    )
    options.check()  # before the (slow) model load
    use_threads(args)  # this process; on Ray, --threads is also each worker's share (default 1)
    worker_threads = args.threads or 1
    if args.ray_address:
        if args.workers is not None and args.workers < 1:
            raise EdgeSDKError(f"--workers must be at least 1, got {args.workers}")
    elif args.workers is not None:
        raise EdgeSDKError("--workers applies to a recording on Ray: add --ray-address")
    pipe = make_pipeline(args)
    if pipe.notice:
        print(f"moebius-edge: note: {pipe.notice}", file=sys.stderr)
    recorder = None
    if args.ray_address:
        from edge_sdk.calibration.ray_recording import DistributedRecorder
        from edge_sdk.ray_runtime import require_ray

        require_ray()
        recorder = DistributedRecorder(pipe.denoiser, pipe.vae, ray_address=args.ray_address, workers=args.workers, threads=worker_threads)
    result = calibrate(
        pipe.denoiser, pipe.vae, options, recipe_path=args.output, report_dir=args.report,
        log=lambda message: print(message, file=sys.stderr), recorder=recorder,
    )
    counts = result.report["precision_counts"]
    verdict = "meets" if result.report["meets_target"] else "MISSES"
    print(
        f"wrote {args.output} and {args.report}: {counts['int8']} int8, {counts['w8']} w8, {counts['fp16']} fp16, "
        f"{counts['fp32']} fp32 layers; final-image PSNR {result.report['psnr_db']:.2f} dB "
        f"({verdict} the {args.target_psnr:g} dB target), inside the hole {result.report['psnr_hole_db']:.2f} dB"
    )


def add_masks_command(commands) -> None:
    from edge_sdk.mask_generator import MASK_KINDS

    parser = commands.add_parser(
        "masks", help="write seeded inpainting masks (LaMa-style strokes, boxes, blobs) binned by hole ratio"
    )
    parser.add_argument("--count", type=int, required=True, help="number of masks")
    parser.add_argument("--size", type=_size, default=(512, 512), help="N or WxH in pixels (default 512)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", type=_kinds, default=MASK_KINDS, help=f"comma-separated, from {','.join(MASK_KINDS)} (default all)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder to write the PNGs into")
    parser.set_defaults(handler=cmd_masks)


def cmd_masks(args) -> None:
    from edge_sdk.mask_generator import write_mask_set

    if not args.output.parent.is_dir():
        raise EdgeSDKError(f"output folder's parent does not exist: {args.output.parent}")
    if args.output.exists() and not args.output.is_dir():
        raise EdgeSDKError(f"-o must be a folder, and {args.output} is a file")
    try:
        paths = write_mask_set(args.output, args.count, args.size, args.seed, kinds=args.kinds)
    except ValueError as exc:
        raise EdgeSDKError(str(exc)) from None
    print(f"wrote {len(paths)} masks to {args.output}")


def _size(text: str):
    try:
        if "x" in text.lower():
            width, height = (int(part) for part in text.lower().split("x"))
            return (width, height)
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None


def _kinds(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
