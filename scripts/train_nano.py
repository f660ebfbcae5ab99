"""The recipe that trained the shipped `nano` model, stage by stage; every stage resumes or is skipped when done.

    python scripts/train_nano.py --photos PHOTO_DIR --run RUN_DIR --vae-minutes 16 --denoiser-minutes 45
    python scripts/train_nano.py --photos PHOTO_DIR --run RUN_DIR --decoder-minutes 40   # in parallel, once the VAE is exported

Stages: VAE (128 px crops) → VAE folder with a measured scaling factor → latent triples of 256 px
crops → denoiser at 256 px (32² latents: 4× cheaper per sample than 512 px, which made CPU training
possible) → positional tables resampled to 512 px → fp16 weights in edge_sdk/weights/.
The VAE decoder keeps training (encoder frozen, so the latents stay valid) while the denoiser trains.
Every `hold_out_every`-th photo (sorted by name) is never used, for held-out evaluation.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from edge_sdk.checkpoint import build_denoiser
from edge_sdk.config import PRESETS
from edge_sdk.train.data import LatentTriples, PhotoCrops, encode_triples, list_photos, split_photos
from edge_sdk.train.export import export_denoiser
from edge_sdk.train.loop import DistillationTrainer, TrainConfig
from edge_sdk.train.resolution import transfer_to_image_size
from edge_sdk.train.vae_training import VaeTrainConfig, export_vae_folder, train_vae
from edge_sdk.vae import load_vae

WEIGHTS = Path(__file__).resolve().parents[1] / "edge_sdk" / "weights"
TRAIN_IMAGE_SIZE = 256
VAE_CONFIG = VaeTrainConfig(steps=600, lr=1e-3, checkpoint_every=50)
DENOISER_CONFIG = TrainConfig(
    steps=1500, batch_size=8, lr=1e-3, warmup_steps=50, uncond_prob=0.1, ema_decay=0.995, checkpoint_every=25, seed=0
)
# 256 px crops of photos shrunk to 40–80 %: about the scene extent a 512 px crop of the full photo shows.
LATENT_CROP_SCALE = (0.4, 0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--vae-minutes", type=float, default=16)
    parser.add_argument("--denoiser-minutes", type=float, default=45)
    parser.add_argument("--denoiser-steps", type=int, default=DENOISER_CONFIG.steps)
    parser.add_argument("--latent-count", type=int, default=1200)
    parser.add_argument("--hold-out-every", type=int, default=7)
    parser.add_argument("--decoder-minutes", type=float, help="only fine-tune the VAE decoder for this long, then re-export the VAE")
    args = parser.parse_args()
    torch.set_num_threads(1)  # shared machine: one thread per job
    args.run.mkdir(parents=True, exist_ok=True)
    train, held = split_photos(list_photos(args.photos), args.hold_out_every)
    print("held out:", ", ".join(p.name for p in held), flush=True)

    vae_state = args.run / "vae" / "state.pt"
    if args.decoder_minutes:
        vae_folder = WEIGHTS / "nano_vae"
        factor = json.loads((vae_folder / "config.json").read_text())["scaling_factor"]
        decoder_state = train_vae(
            PhotoCrops(train, 128),
            args.run / "vae_decoder",
            dataclasses.replace(VAE_CONFIG, steps=1000, lr=5e-4, decoder_only=True, seed=1),
            time_budget_s=args.decoder_minutes * 60,
            progress=False,
            init_state=vae_state,
        )
        export_vae_folder(decoder_state, vae_folder, PhotoCrops(train, 256), scaling_factor=factor)
        print("re-exported the VAE with the fine-tuned decoder", flush=True)
        return
    if not (args.run / "vae" / "done").exists():
        train_vae(PhotoCrops(train, 128), args.run / "vae", VAE_CONFIG, time_budget_s=args.vae_minutes * 60, progress=False)
        (args.run / "vae" / "done").touch()
    vae_folder = WEIGHTS / "nano_vae"
    if not (vae_folder / "config.json").is_file():
        export_vae_folder(vae_state, vae_folder, PhotoCrops(train, 256, *LATENT_CROP_SCALE))
    print("vae scaling factor", json.loads((vae_folder / "config.json").read_text())["scaling_factor"], flush=True)

    latents_path = args.run / f"latents_{TRAIN_IMAGE_SIZE}.safetensors"
    if latents_path.is_file():
        data = LatentTriples.load(latents_path)
    else:
        started = time.monotonic()
        vae = load_vae(vae_folder).float()
        crops = PhotoCrops(train, TRAIN_IMAGE_SIZE, *LATENT_CROP_SCALE)
        data = LatentTriples(encode_triples(vae, crops, args.latent_count, np.random.Generator(np.random.PCG64(0)), progress=False))
        data.save(latents_path)
        print(f"encoded {len(data)} triples in {time.monotonic() - started:.0f}s; latent std {data.tensors['latents'].std():.3f}", flush=True)

    config = dataclasses.replace(PRESETS["nano"], image_size=TRAIN_IMAGE_SIZE)
    trainer = DistillationTrainer(
        build_denoiser(config), data, dataclasses.replace(DENOISER_CONFIG, steps=args.denoiser_steps), out_dir=args.run / "denoiser"
    )
    trainer.train(time_budget_s=args.denoiser_minutes * 60, progress=False)
    print(f"denoiser stopped at step {trainer.step_count}", flush=True)
    # The live weights ship: this run's EMA copy (decay 0.995, no warm-up then) still held ~15% of the random init.
    shipped = transfer_to_image_size(trainer.student, PRESETS["nano"].image_size).eval()
    export_denoiser(shipped, WEIGHTS / "nano_denoiser.safetensors")
    print("exported", flush=True)


if __name__ == "__main__":
    main()
