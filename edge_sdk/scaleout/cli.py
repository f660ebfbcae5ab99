"""The `batch` subcommand and the `--ray-address` option of `calibrate` and `bench` (registered by edge_sdk.cli).

Light at import: Ray, torch and the toolchains load only when a handler runs.
"""
from __future__ import annotations

import sys
from pathlib import Path

RAY_ADDRESS_HELP = "run on Ray: 'auto' or HOST:PORT joins that cluster (default: {default})"


def add_ray_address_option(parser, default: str) -> None:
    parser.add_argument("--ray-address", metavar="ADDRESS", help=RAY_ADDRESS_HELP.format(default=default))


def add_batch_command(commands, add_model_arguments) -> None:
    from edge_sdk.cli_shared import STRENGTH_HELP

    parser = commands.add_parser(
        "batch",
        help="inpaint (and evaluate) a folder of image/mask pairs or a CSV/Parquet manifest on Ray",
        description="Inpaint every row of INPUT on a pool of Ray actors, each opening the model or bundle once; "
        "writes the images and OUT/results.parquet (one row per input). Bad rows are reported, not fatal; "
        "a rerun into the same OUT skips the rows already done.",
    )
    parser.add_argument("input", type=Path, help="folder of NAME.ext + NAME_mask.ext pairs, or a .csv/.parquet manifest "
                        "with columns image, mask and optionally seed, steps, strength, output")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder (images and results.parquet)")
    add_model_arguments(parser)
    parser.add_argument("--bundle", type=Path, help="a bundle folder written by `moebius-edge export` instead of --model")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps for rows without their own (default 20; --model only)")
    parser.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale (default 2.5)")
    parser.add_argument("--strength", type=float, help=STRENGTH_HELP)
    parser.add_argument("--seed", type=int, default=0, help="seed for rows without their own (default 0)")
    parser.add_argument("--evaluate", action="store_true", help="PSNR/SSIM inside the hole against the original image "
                        "and, for a bundle, against its PyTorch fp32 reference pipeline")
    parser.add_argument("--actors", type=int, help="actors in the pool (default: the cluster's CPUs / --threads)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (and CPUs reserved) per actor (default 1)")
    add_ray_address_option(parser, "a local Ray on this machine")
    parser.set_defaults(handler=cmd_batch)


def cmd_batch(args) -> None:
    from edge_sdk.errors import EdgeSDKError
    from edge_sdk.scaleout.batch import batch

    if args.strength is not None and not 0 < args.strength <= 1:
        raise EdgeSDKError(f"--strength must be in (0, 1], got {args.strength}")
    summary = batch(
        args.input, args.output, model=args.model, checkpoint=args.checkpoint, vae=args.vae, bundle=args.bundle,
        steps=args.steps, guidance_scale=args.guidance, strength=args.strength, seed=args.seed, evaluate=args.evaluate,
        actors=args.actors, threads=args.threads, ray_address=args.ray_address, progress=sys.stderr.isatty(),
    )
    print(summary.line())


def cmd_bench_farm(args, outputs) -> None:
    from edge_sdk.errors import EdgeSDKError
    from edge_sdk.scaleout.bench_farm import run_farm

    if not args.ray_address:
        raise EdgeSDKError("--devices needs --ray-address (the Ray cluster whose nodes advertise those devices)")
    if args.gpu_reference is not None:
        raise EdgeSDKError("--gpu-reference applies to a local bench run, not to a farm")
    document = run_farm(
        args.bundles, args.out, (args.devices or "").split(","), ray_address=args.ray_address, threads=args.threads,
        steps=args.steps, warmup=args.warmup, samples=args.samples, checkpoint=args.checkpoint, vae=args.vae,
        measure_memory=args.memory, cpp=args.cpp, cpp_runner=args.cpp_runner,
    )
    failed = [device["device"] for device in document["farm"] if device["status"] == "failed"]
    print(f"wrote {', '.join(str(args.out / name) for name in outputs)}" + (f" ({len(failed)} device(s) failed: {', '.join(failed)})" if failed else ""))
