"""`moebius-edge export`, `verify`, `info` and `inpaint --bundle`: argument parsing and handlers (lazy imports)."""
from __future__ import annotations

from pathlib import Path

from edge_sdk.cli_shared import add_threads_argument, use_threads
from edge_sdk.errors import EdgeSDKError

PRECISIONS = ("fp32", "fp16", "w8", "int8")
VAE_PRECISIONS = ("fp32", "fp16", "int8")
VAE_PRECISION_HELP = (
    "precision of the VAE graphs (encode, decode): fp32, fp16, or int8 (static, calibrated on the bundled photos; "
    "its drift on held-out photos goes into the manifest), or one each as ENCODE/DECODE: int8/fp32 is an int8 "
    "encode, whose error the denoiser absorbs, with an fp32 decode. Default: the backend's choice for its targets; "
    "for executorch, fp16 in int8 bundles (ARM phones and Apple devices compute fp16 natively) and fp32 otherwise. "
    "x86 hosts have no fp16 arithmetic: there use fp32, int8/fp32 or int8. Other backends keep their one VAE precision"
)


def add_export_command(commands, add_model_arguments) -> None:
    from edge_sdk.backends.registry import backend_names, canonical_name
    from edge_sdk.cli_shared import STRENGTH_HELP

    p = commands.add_parser("export", help="export the model as a bundle for one backend (ExecuTorch, Core ML, TensorRT, ONNX Runtime)")
    add_model_arguments(p)
    # `type` runs before the choices are checked: a former name (onnx) is accepted as the backend it became.
    p.add_argument("--backend", required=True, type=canonical_name, choices=backend_names())
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="fp32 (default), fp16, w8 (int8 weights) or int8")
    # Checked in _check_export_arguments rather than by `choices`: a bad value gets the CLI's one-line error.
    p.add_argument("--vae-precision", metavar="{" + ",".join(VAE_PRECISIONS) + "}[/DECODE]", help=VAE_PRECISION_HELP)
    p.add_argument(
        "--decode-tile", type=int, metavar="LATENTS",
        help="export the decode graph for LATENTS² latent tiles (8 pixels each) and decode tile by tile: its working "
             "memory shrinks with the tile's area, for more decode time and a seam error (measured at export, in the "
             "manifest's decode_tiling). executorch bundles only; e.g. 40 for a 512² model (4 tiles)",
    )
    p.add_argument("--decode-overlap", type=int, metavar="LATENTS", help="latents neighbouring tiles share and blend (default: min(16, tile/2))")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--recipe", type=Path, help="int8 calibration recipe (JSON from `moebius-edge calibrate`)")
    source.add_argument("--calibrate", action="store_true", help="int8: calibrate now on the bundled sample photos (the default without --recipe)")
    p.add_argument("--steps", type=int, default=20, help="DDIM steps baked into the bundle, 1 to 1000 (default 20)")
    p.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale, 0 to 20 (default 2.5)")
    p.add_argument("--strength", type=float, help=STRENGTH_HELP)
    p.add_argument(
        "-o", "--output", type=Path, required=True,
        help="bundle directory to create (must not exist); toolchain messages go to OUTPUT.export.log beside it",
    )
    add_threads_argument(p)
    p.set_defaults(handler=cmd_export)


def add_verify_command(commands) -> None:
    p = commands.add_parser("verify", help="check a bundle's file hashes and, where its runtime exists here, its test vector")
    p.add_argument("bundle", type=Path, help="a bundle directory written by `moebius-edge export`")
    p.add_argument("--hashes-only", action="store_true", help="skip the test vector")
    add_threads_argument(p)
    p.set_defaults(handler=cmd_verify)


def add_info_command(commands, add_model_arguments) -> None:
    p = commands.add_parser("info", help="describe a bundle (manifest, sizes, delegation) or, with --model, a model's graphs")
    p.add_argument("bundle", type=Path, nargs="?", help="a bundle directory")
    add_model_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_threads_argument(p)
    p.set_defaults(handler=cmd_info)


def add_bundle_option(inpaint) -> None:
    inpaint.add_argument("--bundle", type=Path, help="run an exported bundle (its steps and guidance are baked in) instead of PyTorch")


def _check_recipe_arguments(args) -> None:
    if args.precision != "int8" and (args.recipe is not None or args.calibrate):
        raise EdgeSDKError(f"--recipe and --calibrate are for --precision int8, not {args.precision}")
    if args.recipe is not None and not args.recipe.is_file():
        raise EdgeSDKError(f"recipe not found: {args.recipe}")


def _given_recipe(args):
    if args.precision != "int8" or args.recipe is None:
        return None
    from edge_sdk.calibration.recipe import load_recipe

    return load_recipe(args.recipe)


def _calibrated_recipe(args, pipe, graphs, progress):
    from edge_sdk.bundle.calibrate import calibrate_for_bundle

    if not args.calibrate:
        progress("no --recipe given: calibrating on the bundled sample photos")
    return calibrate_for_bundle(pipe.denoiser, pipe.vae, graphs, progress=progress)


def export_log_path(output: Path) -> Path:
    """Where `export` keeps what the toolchains print (warnings, lowering messages): beside the bundle."""
    return output.with_name(output.name + ".export.log")


def _check_export_arguments(args) -> None:
    from edge_sdk.backends import get_backend
    from edge_sdk.cli_shared import check_model_files, check_sampling_arguments
    from edge_sdk.deploy.vae_precision import vae_graph_precisions
    from edge_sdk.output_files import check_writable_folder

    check_sampling_arguments(args)
    if args.vae_precision is not None:
        try:
            per_graph = vae_graph_precisions(args.vae_precision)
        except ValueError as error:
            raise EdgeSDKError(str(error)) from None
        if not set(per_graph.values()) <= set(VAE_PRECISIONS):
            raise EdgeSDKError(f"--vae-precision must be {', '.join(VAE_PRECISIONS)} or two of them as ENCODE/DECODE, got {args.vae_precision!r}")
    get_backend(args.backend).check_export(args.precision, args.vae_precision, decode_tiling(args))
    _check_recipe_arguments(args)
    if not args.output.parent.is_dir():
        raise EdgeSDKError(f"output folder does not exist: {args.output.parent}")
    if args.output.exists():
        raise EdgeSDKError(f"{args.output} already exists: bundles are written to a new directory")
    check_writable_folder(args.output.parent, str(args.output))
    check_model_files(args)


def decode_tiling(args):
    """The DecodeTiling that --decode-tile/--decode-overlap ask for, or None (checked against the model later)."""
    from edge_sdk.deploy.tiled_decode import DecodeTiling

    if args.decode_tile is None:
        if args.decode_overlap is not None:
            raise EdgeSDKError("--decode-overlap needs --decode-tile")
        return None
    overlap = args.decode_overlap if args.decode_overlap is not None else min(16, args.decode_tile // 2)
    if args.decode_tile < 2 or overlap < 1:
        raise EdgeSDKError(f"--decode-tile must be at least 2 and --decode-overlap at least 1 (got {args.decode_tile}, {overlap})")
    return DecodeTiling(tile=args.decode_tile, overlap=overlap)


def cmd_export(args) -> None:
    from edge_sdk.bundle.progress import StageProgress
    from edge_sdk.cli_shared import load_pipeline, print_note
    from edge_sdk.native_output import native_stderr_to

    _check_export_arguments(args)
    recipe = _given_recipe(args)  # a bad recipe file fails before the slow part
    use_threads(args)
    pipe = load_pipeline(args)  # a bad checkpoint fails here, before any file is created
    if pipe.notice:
        print_note(pipe.notice)
    log = export_log_path(args.output)
    log.unlink(missing_ok=True)
    try:
        with native_stderr_to(log) as terminal:
            progress = StageProgress(terminal)
            try:
                bundle = _export(args, recipe, pipe, progress)
            finally:
                progress.close()
    except BaseException:
        if log.is_file() and not log.stat().st_size:
            log.unlink()
        raise
    from edge_sdk.bundle.info import describe_bundle

    print(describe_bundle(bundle.path))
    if log.is_file() and log.stat().st_size:
        lines = len(log.read_text(encoding="utf-8", errors="replace").splitlines())
        print_note(f"the toolchains' own messages ({lines} lines: warnings, lowering output) are in {log}")
    else:
        log.unlink(missing_ok=True)


def _export(args, recipe, pipe, progress):
    import torch

    from edge_sdk.bundle.export import export_bundle
    from edge_sdk.bundle.manifest import model_description
    from edge_sdk.deploy import DeployGraphs

    progress(f"building the deploy graphs ({args.steps} steps, guidance {args.guidance:g}, strength {args.strength:g})")
    with torch.no_grad():
        graphs = DeployGraphs.build(pipe.denoiser, pipe.vae, steps=args.steps, strength=args.strength, guidance_scale=args.guidance)
    try:
        graphs = graphs.with_decode_tiling(decode_tiling(args))
    except ValueError as exc:
        raise EdgeSDKError(f"--decode-tile/--decode-overlap: {exc}") from None
    prediction = None
    if args.precision == "int8" and recipe is None:
        recipe, prediction = _calibrated_recipe(args, pipe, graphs, progress)
    model = model_description(
        args.model or pipe.name, pipe.config, checkpoint=args.checkpoint, vae=str(args.vae) if args.vae else None,
        random_weights=pipe.random_weights,
    )
    return export_bundle(
        graphs, args.backend, args.precision, args.output, vae_precision=args.vae_precision, recipe=recipe,
        predicted_quality=prediction, model=model, progress=progress,
    )


def cmd_verify(args) -> None:
    from edge_sdk.bundle.verify import verify_bundle

    use_threads(args)
    report = verify_bundle(args.bundle, run=not args.hashes_only)
    print("\n".join(report.lines()))


def cmd_info(args) -> None:
    if args.bundle is not None:
        if args.model or args.checkpoint or args.vae:
            raise EdgeSDKError("pass either a bundle directory or --model/--checkpoint/--vae, not both")
        from edge_sdk.bundle.info import describe_bundle

        print(describe_bundle(args.bundle, as_json=args.json))
        return
    if not args.model and args.checkpoint is None:
        raise EdgeSDKError("info needs a bundle directory or --model (a preset or config YAML)")
    import json

    from edge_sdk.deploy.report import describe_model, format_model_report

    use_threads(args)
    report = describe_model(args.model or "moebius-0.2b", args.checkpoint, vae=args.vae)
    print(json.dumps(report, indent=2) if args.json else format_model_report(report))


def inpaint_with_bundle(args) -> None:
    from edge_sdk.bundle.inpaint_bundle import load
    from edge_sdk.cli_shared import print_note
    from edge_sdk.imaging import load_image, load_mask
    from edge_sdk.output_files import check_output_image, save_image_atomic
    from edge_sdk.sampling_settings import check_seed

    if args.model or args.checkpoint or args.vae:
        raise EdgeSDKError("--bundle already holds the model: drop --model/--checkpoint/--vae")
    check_seed(args.seed, "--seed")
    load_mask(args.mask, load_image(args.image).size)
    check_output_image(args.output, inputs=(args.image, args.mask))
    use_threads(args)
    bundle = load(args.bundle)
    baked_manifest = bundle.bundle.manifest
    baked = {"--steps": (args.steps, len(bundle.timesteps)), "--guidance": (args.guidance, baked_manifest.guidance_scale), "--strength": (args.strength, baked_manifest.strength)}
    defaults = {"--steps": 20, "--guidance": 2.5, "--strength": None}  # what is left when the flag is not given
    for flag, (asked, value) in baked.items():
        if asked != defaults[flag] and asked != value:
            raise EdgeSDKError(f"{flag} {asked} differs from the bundle's baked value {value}: export a bundle with it")
    if bundle.notice:
        print_note(bundle.notice)
    result = bundle.inpaint(args.image, args.mask, seed=args.seed, progress=True)
    save_image_atomic(result, args.output)
    print(f"wrote {args.output}")
