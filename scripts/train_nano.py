"""The recipe that trained the shipped `nano` model, stage by stage; every stage resumes or is skipped when done.

    python scripts/train_nano.py --photos PHOTO_DIR --run RUN_DIR --threads 2 --stop-after vae
    python scripts/train_nano.py --photos PHOTO_DIR --run RUN_DIR --threads 2 --denoiser-minutes 165
    python scripts/train_nano.py --photos PHOTO_DIR --run RUN_DIR --decoder-minutes 40   # in parallel, once the VAE is exported

Stages: VAE (128 px crops) → VAE folder with a measured scaling factor → latent triples of 256 px
crops (two sets, `LATENT_SETS`) → denoiser at 256 px (32² latents: 4× cheaper per sample than 512 px, which
made CPU training possible) → positional tables resampled to 512 px → fp16 weights in edge_sdk/weights/ (the VAE folder is
written into the run and copied there only with the denoiser, so a half-done run never replaces what ships).
The VAE decoder keeps training (encoder frozen, so the latents stay valid) while the denoiser trains, and learns
to decode smoothed latents as smoothed images (`DECODER_CONFIG`).
Every `hold_out_every`-th photo (sorted by name) is never used, for held-out evaluation.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from edge_sdk.atomic_files import publish_folder
from edge_sdk.checkpoint import build_denoiser
from edge_sdk.config import MODEL_CONFIGS
from edge_sdk.train.data import LatentTriples, PhotoCrops, encode_triples, list_photos, split_photos
from edge_sdk.train.export import export_denoiser
from edge_sdk.train.loop import DistillationTrainer, TrainConfig
from edge_sdk.train.resolution import transfer_to_image_size
from edge_sdk.train.vae_training import VaeTrainConfig, export_vae_folder, train_vae
from edge_sdk.vae import load_vae

WEIGHTS = Path(__file__).resolve().parents[1] / "edge_sdk" / "weights"
TRAIN_IMAGE_SIZE = 256
VAE_CONFIG = VaeTrainConfig(steps=3600, lr=1e-3, checkpoint_every=100)
# The decoder fine-tune (encoder frozen, so latents and scaling factor stay valid) also learns to decode
# smoothed latents into smoothed images: the VAE alone decoded the average of grass latents as brown.
DECODER_CONFIG = dataclasses.replace(VAE_CONFIG, steps=4000, lr=5e-4, decoder_only=True, smoothed_latent_share=0.5, seed=1)
# noise_offset: the official pipeline adds 0.0357 offset noise at inference, so training sees the same.
DENOISER_CONFIG = TrainConfig(
    steps=4800, batch_size=8, lr=1e-3, warmup_steps=100, uncond_prob=0.1, noise_offset=0.0357, ema_decay=0.998,
    checkpoint_every=100, seed=0,
)
# The denoiser trains in phases on one run (each resumes the previous one's checkpoint):
# (training settings, model output and conditioning settings over the preset's, latent set, last step).
# Phase 1, the task loss alone, left the x̂₀ error at t = 900 as large in the *known* region as in the hole:
# ε̂ ≈ x_t already makes the ε loss small there, so the model had not learned to read the masked-image
# latents where sampling starts, and samples filled holes with a generic texture. Phase 2 adds the latent
# perceptual term (multi-scale L1 on x̂₀, gradient-norm adaptive weight), whose gradient grows with t, and
# widens the timestep spread (t ≥ 950 is 0.2% of logit-normal(0, 1) draws, 1.2% at std 1.3). Phase 3
# centres the timesteps on the high-noise steps that fix a fill's colour and layout (median t 730).
# Phase 4 switches the network to the preset's output (v-prediction, known region taken from the masked
# latents; edge_sdk.prediction) after sampling showed x̂₀ drifting off the known region and ε-prediction
# too imprecise at t ≥ 900, with a restarted cosine learning rate. Phase 5 goes on with half the masks
# drawn at twice the size (`LATENT_SETS`): at 512 px box holes are twice as many latent cells wide as on
# the 256 px training crops, and phase 4's fills were good in strokes but generic in big boxes. Phase 6
# switches the conditioning to the preset's pyramid-filled hole (edge_sdk.hole_fill): deep inside a big box
# the model's first x̂₀ was still near the training-set average, while the fill alone, through the VAE, is
# 3.3 dB above a mean-colour fill there. The learning rate restarts higher for the new input.
ZEROED_HOLE = dict(hole_fill="zero")
EPSILON_OUTPUT = dict(ZEROED_HOLE, prediction_type="epsilon", keep_known_latents=False)
PHASE_4 = dict(perceptual=True, timestep_mean=0.5, timestep_std=1.3, steps=12000, lr=6e-4)
PHASE_6 = dict(PHASE_4, steps=20500, lr=1e-3)
DENOISER_PHASES = [
    (dict(), EPSILON_OUTPUT, "crops", 1200),
    (dict(perceptual=True, timestep_std=1.3), EPSILON_OUTPUT, "crops", 3000),
    (dict(perceptual=True, timestep_mean=1.0, timestep_std=1.3, steps=6000), EPSILON_OUTPUT, "crops", 5704),
    (PHASE_4, ZEROED_HOLE, "crops", 8600),
    (PHASE_4, ZEROED_HOLE, "crops with big holes", 12000),
    (PHASE_6, dict(), "big holes, pyramid-filled", None),
]
# Latent triples per phase: the file, how each mask's zoom is drawn (`random_mask`), the RNG seed, and
# what the encoder saw in the hole (`MoebiusConfig.hole_fill`).
LATENT_SETS = {
    "crops": (f"latents_{TRAIN_IMAGE_SIZE}.safetensors", (1,), 0, "zero"),
    "crops with big holes": (f"latents_{TRAIN_IMAGE_SIZE}_zoom12.safetensors", (1, 2), 1, "zero"),
    "big holes, pyramid-filled": (f"latents_{TRAIN_IMAGE_SIZE}_zoom12_pyramid.safetensors", (1, 2), 2, "pyramid"),
}
# 256 px crops of photos shrunk to 40–80 %: about the scene extent a 512 px crop of the full photo shows.
LATENT_CROP_SCALE = (0.4, 0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--vae-minutes", type=float, default=26)
    parser.add_argument("--denoiser-minutes", type=float, default=56)
    parser.add_argument("--latent-count", type=int, default=2000)
    parser.add_argument("--hold-out-every", type=int, default=7)
    parser.add_argument("--decoder-minutes", type=float, help="only fine-tune the VAE decoder for this long, then re-export the VAE")
    parser.add_argument("--stop-after", choices=("vae", "latents"), help="stop once this stage is done")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 when two stages share two cores)")
    args = parser.parse_args()
    if args.denoiser_minutes <= 0 or args.vae_minutes <= 0:
        parser.error("--vae-minutes and --denoiser-minutes must be positive")
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    train, held = split_photos(list_photos(args.photos), args.hold_out_every)
    print("held out:", ", ".join(p.name for p in held), flush=True)

    vae_state = args.run / "vae" / "state.pt"
    vae_folder = args.run / "nano_vae"
    if args.decoder_minutes:
        factor = json.loads((vae_folder / "config.json").read_text())["scaling_factor"]
        decoder_state = train_vae(
            PhotoCrops(train, 128),
            args.run / "vae_decoder",
            DECODER_CONFIG,
            time_budget_s=args.decoder_minutes * 60,
            progress=False,
            init_state=vae_state,
        )
        export_vae_folder(decoder_state, vae_folder, PhotoCrops(train, 256), scaling_factor=factor)
        print("re-exported the VAE with the fine-tuned decoder", flush=True)
        if (args.run / "denoiser" / "shipped").exists():  # otherwise the denoiser stage ships it with its weights
            ship_vae(args.run)
        return
    if not (args.run / "vae" / "done").exists():
        train_vae(PhotoCrops(train, 128), args.run / "vae", VAE_CONFIG, time_budget_s=args.vae_minutes * 60, progress=False)
        (args.run / "vae" / "done").touch()
    if not (vae_folder / "config.json").is_file():
        export_vae_folder(vae_state, vae_folder, PhotoCrops(train, 256, *LATENT_CROP_SCALE))
    print("vae scaling factor", json.loads((vae_folder / "config.json").read_text())["scaling_factor"], flush=True)
    if args.stop_after == "vae":
        return

    latent_sets = {name: latent_triples(args.run, name, train, vae_folder, args.latent_count) for name in LATENT_SETS}
    if args.stop_after == "latents":
        return

    config = dataclasses.replace(MODEL_CONFIGS["nano"], image_size=TRAIN_IMAGE_SIZE)
    started = time.monotonic()
    for settings, output, latent_set, until_step in DENOISER_PHASES:
        budget = args.denoiser_minutes * 60 - (time.monotonic() - started)
        if budget <= 0:
            break  # the last trainer, resumed and trained, is what ships
        train_config = dataclasses.replace(DENOISER_CONFIG, **settings)
        model = build_denoiser(dataclasses.replace(config, **output))
        trainer = DistillationTrainer(model, latent_sets[latent_set], train_config, out_dir=args.run / "denoiser")
        trainer.train(time_budget_s=budget, until_step=until_step, progress=False)
        print(f"denoiser phase stopped at step {trainer.step_count}", flush=True)
    shipped = transfer_to_image_size(trainer.trained_model(), MODEL_CONFIGS["nano"].image_size).eval()
    export_denoiser(shipped, WEIGHTS / "nano_denoiser.safetensors")  # written to a temp file, then renamed
    (args.run / "denoiser" / "shipped").touch()
    ship_vae(args.run)


def latent_triples(run: Path, name: str, photos: list, vae_folder: Path, count: int) -> LatentTriples:
    """The named set of latent triples, encoded into the run folder the first time (the encoder is frozen after
    the VAE stage, so every set stays valid while the decoder is fine-tuned)."""
    file_name, zooms, seed, hole_fill = LATENT_SETS[name]
    path = run / file_name
    if path.is_file():
        return LatentTriples.load(path)
    started = time.monotonic()
    vae = load_vae(vae_folder).float()
    crops = PhotoCrops(photos, TRAIN_IMAGE_SIZE, *LATENT_CROP_SCALE)
    rng = np.random.Generator(np.random.PCG64(seed))
    data = encode_triples(vae, crops, count, rng, progress=False, zooms=zooms, hole_fill=hole_fill)
    data.save(path)
    print(f"encoded {len(data)} triples ({name}) in {time.monotonic() - started:.0f}s; latent std {data.tensors['latents'].std():.3f}", flush=True)
    return data


def ship_vae(run: Path) -> None:
    """Copy the run's VAE folder into the package: staged next to it, so a failed copy leaves the old one whole."""
    publish_folder(lambda staged: shutil.copytree(run / "nano_vae", staged, dirs_exist_ok=True), WEIGHTS / "nano_vae")
    print("shipped into", WEIGHTS, flush=True)


if __name__ == "__main__":
    main()
