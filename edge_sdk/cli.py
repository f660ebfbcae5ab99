"""`moebius-edge`: the command line. User mistakes end in one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from edge_sdk.cli_shared import (
    add_model_arguments,
    add_sampling_arguments,
    add_threads_argument,
    check_model_files,
    check_sampling_arguments,
    load_pipeline,
    print_note,
    use_threads,
)
from edge_sdk.errors import EdgeSDKError

EXIT_USER_ERROR = 2


def cmd_inpaint(args) -> None:
    from edge_sdk.imaging import load_image, load_mask
    from edge_sdk.output_files import check_output_image, save_image_atomic

    if args.bundle is not None:
        from edge_sdk.bundle.cli import inpaint_with_bundle

        return inpaint_with_bundle(args)
    check_sampling_arguments(args)
    # Validate the inputs and the output before the (slow) model load and inference.
    load_mask(args.mask, load_image(args.image).size)
    check_output_image(args.output, inputs=(args.image, args.mask))
    check_model_files(args)
    use_threads(args)
    pipe = load_pipeline(args)
    if pipe.notice:
        print_note(pipe.notice)
    result = pipe(args.image, args.mask, steps=args.steps, guidance_scale=args.guidance, strength=args.strength, seed=args.seed)
    save_image_atomic(result, args.output)
    print(f"wrote {args.output}")


def cmd_demo(args) -> None:
    from edge_sdk.demo import run_demo
    from edge_sdk.output_files import check_output_folder

    check_sampling_arguments(args)
    check_output_folder(args.output)
    check_model_files(args)
    use_threads(args)
    pipe = load_pipeline(args)
    if pipe.notice:
        print_note(pipe.notice)
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
    conformance.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    add_threads_argument(conformance)
    conformance.set_defaults(handler=cmd_conformance)


def cmd_conformance(args) -> None:
    from edge_sdk.conformance import write_conformance_vectors
    from edge_sdk.sampling_settings import check_seed

    check_seed(args.seed, "--seed")
    use_threads(args)
    print(f"wrote {write_conformance_vectors(args.bundle, sample=args.sample, seed=args.seed)}")


def _add_bench_command(commands) -> None:
    bench = commands.add_parser(
        "bench", help="per-step latency, memory, size and PSNR of bundles against PyTorch eager fp32 (bench.json/.md/.png)"
    )
    bench.add_argument("bundles", type=Path, nargs="+", metavar="BUNDLE", help="bundle folders of one model")
    bench.add_argument("--steps", type=int, default=10, help="timed denoising steps per bundle (default 10)")
    bench.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    bench.add_argument(
        "--threads", type=int, help="threads for PyTorch, ExecuTorch and ONNX Runtime (default: half the cores, at least 1)"
    )
    bench.add_argument("--samples", type=int, default=3, help="bundled samples for the PSNR columns (default 3; 0 skips)")
    bench.add_argument("--gpu-reference", type=Path, help="JSON written by benchmarks/gpu_reference.py")
    bench.add_argument("--checkpoint", type=Path, help="the weights the bundles came from, when not a preset")
    bench.add_argument("--vae", type=Path, help="the VAE folder that goes with --checkpoint")
    bench.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-memory child processes")
    bench.add_argument("--cpp-runner", type=Path, help="moebius_edge_run for the C++ rows of ExecuTorch bundles "
                       "(default: build/bindings-cpp/moebius_edge_run where built)")
    bench.add_argument("--no-cpp", dest="cpp", action="store_false", help="skip the C++ runner's rows")
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
    from edge_sdk.threads import default_threads

    threads = default_threads() if args.threads is None else args.threads  # chosen, never every core
    run_bench(
        args.bundles, args.out, steps=args.steps, warmup=args.warmup, threads=threads, samples=args.samples,
        gpu_reference=args.gpu_reference, checkpoint=args.checkpoint, vae=args.vae, measure_memory=args.memory,
        progress=sys.stderr.isatty(), cpp=args.cpp, cpp_runner=args.cpp_runner,
    )
    print(f"wrote {', '.join(str(args.out / name) for name in OUTPUTS)}")


def _add_bundle_commands(commands, inpaint) -> None:
    from edge_sdk.bundle.cli import add_bundle_option, add_export_command, add_info_command, add_verify_command

    add_bundle_option(inpaint)
    add_export_command(commands, add_model_arguments)
    add_verify_command(commands)
    add_info_command(commands, add_model_arguments)


def _add_calibration_commands(commands) -> None:
    from edge_sdk.calibration.cli import add_calibrate_command, add_masks_command

    add_calibrate_command(commands, add_model_arguments, load_pipeline)
    add_masks_command(commands)


def _add_scaleout_commands(commands) -> None:
    from edge_sdk.scaleout.cli import add_batch_command

    add_batch_command(commands, add_model_arguments)


def build_parser() -> argparse.ArgumentParser:
    from edge_sdk import __version__

    parser = argparse.ArgumentParser(prog="moebius-edge", description="On-device inpainting with the Moebius diffusion model.")
    parser.add_argument("--version", action="version", version=f"moebius-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    inpaint = commands.add_parser("inpaint", help="fill the white area of MASK in IMAGE")
    inpaint.add_argument("image", type=Path, help="the photo (PNG, JPEG, …; grey and RGBA come back in their own mode)")
    inpaint.add_argument("mask", type=Path, help="same size as IMAGE; white (≥ 128) = the hole to fill")
    inpaint.add_argument(
        "-o", "--output", type=Path, required=True,
        help="output image (.png, .jpg at quality 95, .webp, .bmp, .tif); checked before the model runs",
    )
    add_model_arguments(inpaint)
    add_sampling_arguments(inpaint)
    inpaint.set_defaults(handler=cmd_inpaint)

    demo = commands.add_parser("demo", help="inpaint the bundled sample photos and write before/after pictures and a report")
    demo.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for the pictures and report.md (default demo-output)")
    add_model_arguments(demo)
    add_sampling_arguments(demo)
    demo.set_defaults(handler=cmd_demo)
    _add_train_commands(commands)
    _add_conformance_command(commands)
    _add_bench_command(commands)
    _add_bundle_commands(commands, inpaint)
    _add_calibration_commands(commands)
    _add_scaleout_commands(commands)
    return parser


def main(argv=None) -> int:
    from edge_sdk.notices import ModelNotice

    # The CLI prints each model notice as a `note:` line of its own on every run.
    warnings.filterwarnings("ignore", category=ModelNotice)
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
