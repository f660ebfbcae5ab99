"""`moebius-edge train` and `moebius-edge train-vae`: argument parsing and the handlers (imports stay lazy)."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge_sdk.errors import EdgeSDKError

DEFAULT_HOLD_OUT_EVERY = 7


def add_train_vae_command(commands) -> None:
    p = commands.add_parser("train-vae", help="train a small latent autoencoder on a folder of photos")
    p.add_argument("--photos", type=Path, required=True, help="folder of training photos (short side ≥ --crop)")
    p.add_argument("--out", type=Path, required=True, help="run folder: state.pt (resumable), log.csv")
    p.add_argument("--export", type=Path, help="write a diffusers VAE folder (fp16) here when training stops")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--hold-out-every", type=int, default=DEFAULT_HOLD_OUT_EVERY, help="keep every N-th photo out of training (0: none)")
    p.add_argument("--time-budget", type=float, help="minutes; checkpoint and stop after this long (resume later)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_train_vae)


def add_train_command(commands) -> None:
    p = commands.add_parser("train", help="train or distil a Moebius denoiser in latent space (resumable)")
    p.add_argument("--latents", type=Path, required=True, help="precomputed latent triples (.safetensors); built from --photos and --vae when missing")
    p.add_argument("--photos", type=Path, help="photo folder to encode when --latents does not exist yet")
    p.add_argument("--vae", type=Path, help="diffusers VAE folder used to encode --photos")
    p.add_argument("--count", type=int, default=512, help="crops to encode (each with its own random mask)")
    p.add_argument("--hold-out-every", type=int, default=DEFAULT_HOLD_OUT_EVERY, help="keep every N-th photo out of training (0: none)")
    p.add_argument("--student", default="nano", help="student config: preset name or YAML (default nano)")
    p.add_argument("--init", type=Path, help="start the student from these weights instead of random ones")
    p.add_argument("--teacher", help="teacher config (preset or YAML); without it: task-loss training")
    p.add_argument("--teacher-checkpoint", type=Path, help="teacher weights (.bin/.safetensors); needed with --teacher")
    p.add_argument("--student-feature", help="student module for feature distillation, e.g. diff_model.up_blocks.1")
    p.add_argument("--teacher-feature", help="teacher module matched to --student-feature")
    p.add_argument("--probe", nargs="+", default=(), help="parameter-name prefixes the adaptive weights probe")
    p.add_argument("--perceptual", action="store_true", help="add the multi-scale latent perceptual term")
    p.add_argument("--out", type=Path, required=True, help="run folder: state.pt (resumable), log.csv, loss.png")
    p.add_argument("--export", type=Path, help="write the trained weights (fp16 safetensors) here when training stops")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--uncond-prob", type=float, default=0.1, help="share of samples on the unconditional ids (CFG)")
    p.add_argument("--noise-offset", type=float, default=0.0)
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the exported weights (0: off)")
    p.add_argument("--time-budget", type=float, help="minutes; checkpoint and stop after this long (resume later)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_train)


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise EdgeSDKError(f"--{name.replace('_', '-')} must be positive, got {value}")


def _training_photos(folder: Path, hold_out_every: int):
    from edge_sdk.train.data import list_photos, split_photos

    train, held = split_photos(list_photos(folder), hold_out_every)
    if held:
        print(f"held out of training: {', '.join(p.name for p in held)}")
    return train


def cmd_train_vae(args) -> None:
    import numpy as np  # noqa: F401  (fail early if the environment is broken)
    import torch

    from edge_sdk.train.data import PhotoCrops
    from edge_sdk.train.vae_training import VaeTrainConfig, export_vae_folder, train_vae

    _check_positive(steps=args.steps, batch_size=args.batch_size, crop=args.crop, lr=args.lr, time_budget=args.time_budget, threads=args.threads)
    torch.set_num_threads(args.threads)
    crops = PhotoCrops(_training_photos(args.photos, args.hold_out_every), args.crop)
    config = VaeTrainConfig(steps=args.steps, batch_size=args.batch_size, crop=args.crop, lr=args.lr, seed=args.seed)
    budget = args.time_budget * 60 if args.time_budget else None
    state = train_vae(crops, args.out, config, time_budget_s=budget)
    print(f"wrote {state}")
    if args.export:
        export_vae_folder(state, args.export, PhotoCrops(_training_photos(args.photos, args.hold_out_every), 256))
        print(f"wrote {args.export}")


def _load_or_encode_latents(args, hole_fill: str):
    """The --latents file, or triples encoded from --photos with --vae the way the student is conditioned."""
    import numpy as np

    from edge_sdk.train.data import LatentTriples, PhotoCrops, encode_triples

    if args.latents.is_file():
        return LatentTriples.load(args.latents)
    if args.photos is None or args.vae is None:
        raise EdgeSDKError(f"{args.latents} does not exist: pass --photos and --vae to encode it")
    from edge_sdk.vae import load_vae

    vae = load_vae(args.vae).float()
    crops = PhotoCrops(_training_photos(args.photos, args.hold_out_every), 512)
    rng = np.random.Generator(np.random.PCG64(args.seed))
    triples = encode_triples(vae, crops, args.count, rng, hole_fill=hole_fill)
    triples.save(args.latents)
    print(f"wrote {args.latents} ({len(triples)} crops)")
    return triples


def cmd_train(args) -> None:
    import torch

    from edge_sdk.checkpoint import load_denoiser
    from edge_sdk.train.export import export_denoiser
    from edge_sdk.train.loop import DistillationTrainer, TrainConfig

    _check_positive(steps=args.steps, batch_size=args.batch_size, lr=args.lr, count=args.count, time_budget=args.time_budget, threads=args.threads)
    if not 0 <= args.uncond_prob <= 1:
        raise EdgeSDKError(f"--uncond-prob must be in [0, 1], got {args.uncond_prob}")
    if (args.teacher is None) != (args.teacher_checkpoint is None):
        raise EdgeSDKError("--teacher and --teacher-checkpoint go together (a random teacher teaches nothing)")
    if bool(args.student_feature) != bool(args.teacher_feature):
        raise EdgeSDKError("--student-feature and --teacher-feature go together")
    if args.student_feature and args.teacher is None:
        raise EdgeSDKError("feature distillation (--student-feature) needs a --teacher")
    torch.set_num_threads(args.threads)
    student = load_denoiser(args.init, args.student)
    data = _load_or_encode_latents(args, student.config.hole_fill)
    if data.latent_side != student.config.sample_size:
        raise EdgeSDKError(f"{args.latents} holds {data.latent_side}² latents; the student needs {student.config.sample_size}²")
    teacher = load_denoiser(args.teacher_checkpoint, args.teacher) if args.teacher else None
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        uncond_prob=args.uncond_prob,
        noise_offset=args.noise_offset,
        student_feature=args.student_feature,
        teacher_feature=args.teacher_feature,
        probe=tuple(args.probe),
        perceptual=args.perceptual,
        ema_decay=args.ema,
        seed=args.seed,
    )
    try:
        trainer = DistillationTrainer(student, data, config, teacher=teacher, out_dir=args.out)
    except ValueError as exc:
        raise EdgeSDKError(str(exc)) from None
    state = trainer.train(time_budget_s=args.time_budget * 60 if args.time_budget else None)
    print(f"wrote {state} (step {trainer.step_count}); log {args.out / 'log.csv'}, plot {args.out / 'loss.png'}")
    if args.export:
        export_denoiser(trainer.trained_model(), args.export)
        print(f"wrote {args.export}")
