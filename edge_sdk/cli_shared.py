"""What the `moebius-edge` sub-commands share: the model, sampling and thread arguments, their checks,
the pipeline they load and the note line they print.

Its own module so that the sub-command modules (bundle, calibration, scale-out) need not import
`edge_sdk.cli`, which imports them. Light at import: torch loads only when a pipeline is made.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_sdk.errors import EdgeSDKError


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
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


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    from edge_sdk.sampling_settings import MAX_GUIDANCE, MAX_STEPS

    parser.add_argument("--steps", type=int, default=20, help=f"DDIM steps, 1 to {MAX_STEPS} (default 20)")
    parser.add_argument(
        "--guidance", type=float, default=2.5, help=f"classifier-free guidance scale, 0 to {MAX_GUIDANCE:g} (default 2.5)"
    )
    parser.add_argument("--strength", type=float, help=STRENGTH_HELP)
    parser.add_argument("--seed", type=int, default=0, help="noise seed, 0 to 2**64 - 1 (default 0)")
    add_threads_argument(parser)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=int,
        help="CPU threads for PyTorch, ExecuTorch and ONNX Runtime (default: half the cores, at least 1, "
        "so that a busy core does not stall every step)",
    )


def use_threads(args) -> None:
    from edge_sdk.threads import use_threads as set_threads

    set_threads(getattr(args, "threads", None))


def model_strength(args) -> float:
    """The strength a run without --strength uses: the model preset's (1.0 for checkpoints and random presets)."""
    from edge_sdk.presets import DEFAULT_MODEL, MODEL_PRESETS

    preset = MODEL_PRESETS.get(args.model or DEFAULT_MODEL)
    return preset.strength if preset is not None and args.checkpoint is None else 1.0


def check_sampling_arguments(args) -> None:
    """The shared rules of edge_sdk.sampling_settings, in the CLI's spelling; fills in the model's strength."""
    from edge_sdk.sampling_settings import CLI_NAMES, check_sampling

    args.steps, args.guidance, args.strength, args.seed = check_sampling(
        steps=args.steps, guidance_scale=args.guidance, strength=args.strength, seed=getattr(args, "seed", 0),
        default_strength=model_strength(args), names=CLI_NAMES,
    )


def check_model_files(args) -> None:
    """The model's files, before anything slow: paired, present and of the right kind (read at the load)."""
    if args.checkpoint is None and args.vae is None:
        return
    if args.checkpoint is None or args.vae is None:
        raise EdgeSDKError("--checkpoint and --vae go together: the denoiser needs the VAE it was trained with")
    from edge_sdk.checkpoint import check_checkpoint_file
    from edge_sdk.vae import check_vae_folder

    check_checkpoint_file(args.checkpoint)
    check_vae_folder(args.vae)


def load_pipeline(args):
    from edge_sdk.pipeline import InpaintPipeline
    from edge_sdk.presets import DEFAULT_MODEL, OFFICIAL_CONFIG

    if args.checkpoint is not None or args.vae is not None:
        if args.checkpoint is None or args.vae is None:
            raise EdgeSDKError("--checkpoint and --vae go together: the denoiser needs the VAE it was trained with")
        return InpaintPipeline.from_files(args.checkpoint, args.vae, args.model or OFFICIAL_CONFIG)
    return InpaintPipeline.from_preset(args.model or DEFAULT_MODEL)


def print_note(message: str) -> None:
    print(f"moebius-edge: note: {message}", file=sys.stderr)
