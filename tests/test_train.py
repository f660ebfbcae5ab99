"""The distillation trainer on tiny models: losses, adaptive weights, exact resume, export, CLI errors."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from edge_sdk.checkpoint import build_denoiser, load_denoiser
from edge_sdk.cli import main
from edge_sdk.config import MODEL_CONFIGS
from edge_sdk.train.data import LatentTriples, random_mask
from edge_sdk.train.export import export_denoiser
from edge_sdk.train.losses import FeatureProjector, feature_distillation_loss
from edge_sdk.train.loop import DistillationTrainer, TrainConfig
from edge_sdk.train.timesteps import logit_normal_timesteps
from edge_sdk.train.weighting import GradNormWeighting

CLAMP = (1e-4, 1e4)  # wide, so the weights move freely; clamping itself is tested on its own below
# The tiny preset's widths at 128 px (16×16 latents): the same layers as `tiny`, 16× cheaper per step.
TINY_128 = dataclasses.replace(MODEL_CONFIGS["tiny"], image_size=128)


def random_triples(count=4, side=16, seed=0) -> LatentTriples:
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(count, 4, side, side, generator=g)
    hole = (torch.rand(count, 1, side, side, generator=g) > 0.7).float()
    return LatentTriples({"latents": latents, "masked_latents": latents * (1 - hole), "mask_latent": hole})


def distillation_config(**overrides) -> TrainConfig:
    settings = dict(
        steps=3,
        batch_size=1,
        lr=1e-3,
        warmup_steps=1,
        uncond_prob=0.5,
        student_feature="diff_model.up_blocks.2",
        teacher_feature="diff_model.up_blocks.2",
        perceptual=True,
        weight_clamp=CLAMP,
        seed=3,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def make_trainer(tmp_path=None, **overrides) -> DistillationTrainer:
    torch.set_num_threads(1)
    student = build_denoiser(TINY_128, seed=1)
    teacher = build_denoiser(TINY_128, seed=2)
    return DistillationTrainer(student, random_triples(), distillation_config(**overrides), teacher=teacher, out_dir=tmp_path)


def test_distillation_steps_have_finite_clamped_changing_weights():
    trainer = make_trainer()
    rows = [trainer.step() for _ in range(3)]
    for row in rows:
        for name in ("loss", "task", "out", "feat", "perc"):
            assert math.isfinite(row[name]) and row[name] > 0, (name, row)
        for name in ("w_task", "w_out", "w_perc"):
            assert math.isfinite(row[name]) and CLAMP[0] <= row[name] <= CLAMP[1], (name, row)
    # Recomputed every step from that step's gradients, so they move.
    for name in ("w_task", "w_out", "w_perc"):
        assert len({row[name] for row in rows}) == 3, (name, [row[name] for row in rows])
    # A real update happened: the student's weights left their initial values.
    initial = build_denoiser(TINY_128, seed=1).state_dict()
    moved = [k for k, v in trainer.student.state_dict().items() if v.is_floating_point() and not torch.equal(v, initial[k])]
    assert len(moved) > 100


def test_gradnorm_ratio_is_clamped_and_detached():
    p = torch.nn.Parameter(torch.ones(3))
    weighting = GradNormWeighting([p], clamp=(0.1, 10.0))
    big, small = weighting.gradient((1000 * p).sum()), weighting.gradient((1e-6 * p).sum())
    assert float(weighting.ratio(big, small)) == 10.0
    assert float(weighting.ratio(small, big)) == pytest.approx(0.1)
    assert float(weighting.ratio(2 * small, small)) == pytest.approx(2.0)
    assert not weighting.ratio(big, small).requires_grad


def test_resume_continues_the_same_run(tmp_path):
    first = make_trainer(tmp_path / "a")
    first.step()
    first.step()
    first.save(tmp_path / "state.pt")
    expected = first.step()

    resumed = make_trainer(tmp_path / "b")
    resumed.resume(tmp_path / "state.pt")
    assert resumed.step_count == 2
    got = resumed.step()
    for name in ("loss", "task", "out", "feat", "perc", "w_task", "w_out", "w_perc", "lr"):
        assert got[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-8), name


def test_a_phase_ended_with_until_step_resumes_into_the_same_run(tmp_path):
    whole = make_trainer(tmp_path / "whole")
    whole.train(progress=False)

    phase_1 = make_trainer(tmp_path / "phased")
    phase_1.train(until_step=2, progress=False)
    assert phase_1.step_count == 2
    phase_2 = make_trainer(tmp_path / "phased")  # a new trainer, as a later phase with other settings builds
    phase_2.train(progress=False)
    assert phase_2.step_count == whole.step_count == 3
    for key, value in whole.student.state_dict().items():
        assert torch.equal(phase_2.student.state_dict()[key], value), key


def test_task_only_training_writes_log_plot_and_loadable_fp16_weights(tmp_path):
    torch.set_num_threads(1)
    student = build_denoiser(TINY_128, seed=1)
    config = TrainConfig(steps=2, batch_size=1, warmup_steps=1, checkpoint_every=1, log_every=1, ema_decay=0.5)
    trainer = DistillationTrainer(student, random_triples(), config, out_dir=tmp_path)
    assert trainer.weighting is None  # nothing to balance with the task loss alone
    trainer.train(progress=False)
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("step,loss,task")
    assert (tmp_path / "loss.png").stat().st_size > 1000
    path = export_denoiser(trainer.trained_model(), tmp_path / "student.safetensors")
    loaded = load_denoiser(path, TINY_128)
    for key, value in trainer.trained_model().state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(loaded.state_dict()[key], value, rtol=1e-3, atol=1e-4), key


def test_feature_projector_matches_channels_and_resolution():
    projector = FeatureProjector(32, 64)
    student = torch.randn(2, 32, 16, 16)
    teacher = torch.randn(2, 64, 32, 32)
    loss = feature_distillation_loss(student, teacher, projector)
    assert loss.ndim == 0 and loss > 0
    loss.backward()
    assert projector.proj.weight.grad is not None
    assert isinstance(FeatureProjector(32, 32).proj, torch.nn.Identity)


def test_logit_normal_timesteps_cover_the_schedule_and_favour_the_middle():
    t = logit_normal_timesteps(20000, torch.Generator().manual_seed(0))
    assert t.dtype == torch.int64 and int(t.min()) >= 0 and int(t.max()) <= 999
    middle = ((t >= 250) & (t < 750)).float().mean()
    assert 0.6 < float(middle) < 0.8  # uniform would give 0.5; σ(N(0,1)) puts ~69% there
    assert abs(float(t.float().median()) - 500) < 15


def test_cli_train_errors_are_one_line(tmp_path, capsys):
    code = main(["train", "--latents", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "pass --photos and --vae" in err and "Traceback" not in err
    code = main(["train", "--latents", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "run"), "--teacher", "tiny"])
    err = capsys.readouterr().err
    assert code == 2 and "--teacher-checkpoint" in err
    assert not (tmp_path / "run").exists()


def test_transfer_to_a_larger_image_size_keeps_weights_and_resamples_tables():
    from edge_sdk.train.resolution import transfer_to_image_size

    small = build_denoiser(TINY_128, seed=1)
    large = transfer_to_image_size(small, 256)
    assert large.config.sample_size == 32
    state_small, state_large = small.state_dict(), large.state_dict()
    for key, value in state_small.items():
        if key.endswith("rel_pos_emb"):
            side = math.isqrt(value.shape[0])
            assert state_large[key].shape[0] == (2 * side) ** 2
            # A constant table stays constant; the mean is kept by bilinear resampling.
            assert float(state_large[key].mean()) == pytest.approx(float(value.mean()), abs=2e-3)
        else:
            assert torch.equal(state_large[key], value), key
    x = torch.randn(1, 9, 32, 32)
    assert large(x, torch.tensor([500]), torch.arange(10)[None]).shape == (1, 4, 32, 32)


def test_zoomed_masks_are_windows_of_a_larger_mask_with_wider_holes():
    from scipy import ndimage

    def depth(mask):  # how far the deepest hole pixel is from the known region
        return ndimage.distance_transform_edt(mask).max()

    rng = np.random.Generator(np.random.PCG64(0))
    plain = [random_mask(64, rng, kinds=("box",)) for _ in range(12)]
    zoomed = [random_mask(64, rng, kinds=("box",), zoom=2) for _ in range(12)]
    assert all(m.shape == (64, 64) and m.dtype == bool for m in plain + zoomed)
    assert all(m.mean() >= 0.02 for m in zoomed)  # the window is chosen to hold some hole
    # Boxes cover a drawn share of the canvas: on a 2× canvas they are about twice as many pixels deep.
    assert np.mean([depth(m) for m in zoomed]) > 1.5 * np.mean([depth(m) for m in plain])


def test_latent_triples_keep_their_hole_fill_and_the_trainer_checks_it(tmp_path):
    from safetensors.torch import save_file

    from edge_sdk.errors import ConfigError

    zeroed = random_triples()
    filled = LatentTriples(zeroed.tensors, "pyramid")
    filled.save(tmp_path / "filled.safetensors")
    assert LatentTriples.load(tmp_path / "filled.safetensors").hole_fill == "pyramid"
    save_file(zeroed.tensors, str(tmp_path / "older.safetensors"))  # written before files carried the fill
    assert LatentTriples.load(tmp_path / "older.safetensors").hole_fill == "zero"
    pyramid_model = dataclasses.replace(TINY_128, hole_fill="pyramid")
    with pytest.raises(ConfigError, match="hole_fill 'zero' but the student config has 'pyramid'"):
        DistillationTrainer(build_denoiser(pyramid_model), zeroed, TrainConfig(steps=1))
    with pytest.raises(ConfigError, match="the teacher config has 'zero'"):
        DistillationTrainer(build_denoiser(pyramid_model), filled, TrainConfig(steps=1), teacher=build_denoiser(TINY_128))
    assert DistillationTrainer(build_denoiser(pyramid_model), filled, TrainConfig(steps=1)).data is filled
