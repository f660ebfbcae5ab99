"""`moebius-edge`: the command line. User mistakes end in one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from edge_sdk.errors import EdgeSDKError

EXIT_USER_ERROR = 2


def _quiet_third_party_logs() -> None:
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    # torchao (pulled in by diffusers) warns about GPU kernels this CPU build lacks; irrelevant to users.
    for name in ("torchao", "torch.utils._pytree", "diffusers"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS

    parser.add_argument(
        "--model",
        help=f"preset ({', '.join(MODEL_PRESETS)}; default {DEFAULT_MODEL}) or, with --checkpoint, a config YAML "
        "(default with --checkpoint: moebius-0.2b, the official architecture)",
    )
    parser.add_argument("--checkpoint", type=Path, help="official denoiser weights (.bin or .safetensors)")
    parser.add_argument("--vae", type=Path, help="diffusers VAE folder (config.json + weights), needed with --checkpoint")


STRENGTH_HELP = (
    "1.0 starts from pure noise; the official 0.99 keeps a trace of the original; a model with a filled hole "
    "starts from the fill (default: the model's, 1.0 but for nano)"
)


def _add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps (default 20)")
    parser.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale (default 2.5)")
    parser.add_argument("--strength", type=float, help=STRENGTH_HELP)
    parser.add_argument("--seed", type=int, default=0)


def model_strength(args) -> float:
    """The strength a run without --strength uses: the model preset's (1.0 for checkpoints and random presets)."""
    from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS

    preset = MODEL_PRESETS.get(args.model or DEFAULT_MODEL)
    return preset.strength if preset is not None and args.checkpoint is None else 1.0


def _check_sampling_arguments(args) -> None:
    given = args.strength is not None
    if not given:
        args.strength = model_strength(args)
    if args.steps < 1:
        raise EdgeSDKError(f"--steps must be at least 1, got {args.steps}")
    if not 0 < args.strength <= 1:
        raise EdgeSDKError(f"--strength must be in (0, 1], got {args.strength}")
    if int(args.steps * args.strength) < 1:
        if given:
            raise EdgeSDKError(f"--strength {args.strength} keeps no step out of {args.steps}")
        raise EdgeSDKError(f"the model runs {args.strength} of the steps, none of --steps {args.steps}: pass more --steps or --strength 1")


def _pipeline(args):
    from edge_sdk.pipeline import InpaintPipeline
    from edge_sdk.presets import DEFAULT_MODEL, OFFICIAL_CONFIG

    if args.checkpoint is not None or args.vae is not None:
        if args.checkpoint is None or args.vae is None:
            raise EdgeSDKError("--checkpoint and --vae go together: the denoiser needs the VAE it was trained with")
        return InpaintPipeline.from_files(args.checkpoint, args.vae, args.model or OFFICIAL_CONFIG)
    return InpaintPipeline.from_preset(args.model or DEFAULT_MODEL)


def _warn(message: str) -> None:
    print(f"moebius-edge: note: {message}", file=sys.stderr)


def cmd_inpaint(args) -> None:
    from edge_sdk.imaging import load_image, load_mask, save_image_atomic

    if args.bundle is not None:
        from edge_sdk.bundle.cli import inpaint_with_bundle

        return inpaint_with_bundle(args)
    _check_sampling_arguments(args)
    # Validate the inputs before the (slow) model load.
    load_mask(args.mask, load_image(args.image).size)
    if not args.output.parent.is_dir():
        raise EdgeSDKError(f"output folder does not exist: {args.output.parent}")
    pipe = _pipeline(args)
    if pipe.notice:
        _warn(pipe.notice)
    result = pipe(args.image, args.mask, steps=args.steps, guidance_scale=args.guidance, strength=args.strength, seed=args.seed)
    save_image_atomic(result, args.output)
    print(f"wrote {args.output}")


def cmd_demo(args) -> None:
    from edge_sdk.demo import run_demo

    _check_sampling_arguments(args)
    pipe = _pipeline(args)
    if pipe.notice:
        _warn(pipe.notice)
    report = run_demo(pipe, args.output, steps=args.steps, guidance_scale=args.guidance, strength=args.strength, seed=args.seed)
    print(f"wrote {report}")


def _add_train_commands(commands) -> None:
    from edge_sdk.train.cli import add_train_command, add_train_vae_command

    add_train_command(commands)
    add_train_vae_command(commands)


def _add_conformance_command(commands) -> None:
    conformance = commands.add_parser(
        "conformance", help="write BUNDLE/conformance/: graph inputs and Python's outputs for the C++ and web runtimes to replay"
    )
    conformance.add_argument("bundle", type=Path, help="a bundle folder written by `moebius-edge export`")
    conformance.add_argument("--sample", default="astronaut", help="bundled sample photo to inpaint (default astronaut)")
    conformance.add_argument("--seed", type=int, default=0)
    conformance.set_defaults(handler=cmd_conformance)


def cmd_conformance(args) -> None:
    from edge_sdk.conformance import write_conformance_vectors

    print(f"wrote {write_conformance_vectors(args.bundle, sample=args.sample, seed=args.seed)}")


def _add_bench_command(commands) -> None:
    bench = commands.add_parser(
        "bench", help="per-step latency, memory, size and PSNR of bundles against PyTorch eager fp32 (bench.json/.md/.png)"
    )
    bench.add_argument("bundles", type=Path, nargs="+", metavar="BUNDLE", help="bundle folders of one model")
    bench.add_argument("--steps", type=int, default=10, help="timed denoising steps per bundle (default 10)")
    bench.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    bench.add_argument("--threads", type=int, help="threads for PyTorch and ExecuTorch (default: the runtimes' own)")
    bench.add_argument("--samples", type=int, default=3, help="bundled samples for the PSNR columns (default 3; 0 skips)")
    bench.add_argument("--gpu-reference", type=Path, help="JSON written by benchmarks/gpu_reference.py")
    bench.add_argument("--checkpoint", type=Path, help="the weights the bundles came from, when not a preset")
    bench.add_argument("--vae", type=Path, help="the VAE folder that goes with --checkpoint")
    bench.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-memory child processes")
    bench.add_argument("--out", type=Path, required=True, help="folder for bench.json, bench.md and bench.png")
    bench.add_argument("--ray-address", metavar="ADDRESS", help="device farm: 'auto' or HOST:PORT of a Ray cluster whose "
                       "nodes advertise device:NAME resources (default: measure on this machine)")
    bench.add_argument("--devices", help="with --ray-address: comma-separated device names; every bundle is measured on each")
    bench.set_defaults(handler=cmd_bench)


def cmd_bench(args) -> None:
    from edge_sdk.bench.runner import OUTPUTS, run_bench

    if args.ray_address or args.devices:
        from edge_sdk.scaleout.cli import cmd_bench_farm

        return cmd_bench_farm(args, OUTPUTS)
    run_bench(
        args.bundles, args.out, steps=args.steps, warmup=args.warmup, threads=args.threads, samples=args.samples,
        gpu_reference=args.gpu_reference, checkpoint=args.checkpoint, vae=args.vae, measure_memory=args.memory,
        progress=sys.stderr.isatty(),
    )
    print(f"wrote {', '.join(str(args.out / name) for name in OUTPUTS)}")


def _add_bundle_commands(commands, inpaint) -> None:
    from edge_sdk.bundle.cli import add_bundle_option, add_export_command, add_info_command, add_verify_command

    add_bundle_option(inpaint)
    add_export_command(commands, _add_model_arguments)
    add_verify_command(commands)
    add_info_command(commands, _add_model_arguments)


def _add_calibration_commands(commands) -> None:
    from edge_sdk.calibration.cli import add_calibrate_command, add_masks_command

    add_calibrate_command(commands, _add_model_arguments, _pipeline)
    add_masks_command(commands)


def _add_scaleout_commands(commands) -> None:
    from edge_sdk.scaleout.cli import add_batch_command

    add_batch_command(commands, _add_model_arguments)


def build_parser() -> argparse.ArgumentParser:
    from edge_sdk import __version__

    parser = argparse.ArgumentParser(prog="moebius-edge", description="On-device inpainting with the Moebius diffusion model.")
    parser.add_argument("--version", action="version", version=f"moebius-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    inpaint = commands.add_parser("inpaint", help="fill the white area of MASK in IMAGE")
    inpaint.add_argument("image", type=Path)
    inpaint.add_argument("mask", type=Path, help="same size as IMAGE; white = hole")
    inpaint.add_argument("-o", "--output", type=Path, required=True, help="output image (.png, .jpg, …)")
    _add_model_arguments(inpaint)
    _add_sampling_arguments(inpaint)
    inpaint.set_defaults(handler=cmd_inpaint)

    demo = commands.add_parser("demo", help="inpaint the bundled sample photos and write before/after pictures and a report")
    demo.add_argument("-o", "--output", type=Path, default=Path("demo-output"))
    _add_model_arguments(demo)
    _add_sampling_arguments(demo)
    demo.set_defaults(handler=cmd_demo)
    _add_train_commands(commands)
    _add_conformance_command(commands)
    _add_bench_command(commands)
    _add_bundle_commands(commands, inpaint)
    _add_calibration_commands(commands)
    _add_scaleout_commands(commands)
    return parser


def main(argv=None) -> int:
    _quiet_third_party_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except EdgeSDKError as exc:
        print(f"moebius-edge: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("moebius-edge: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
