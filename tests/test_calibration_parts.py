"""Calibration parts that need no model run: metrics, observers, the recipe format, the precision search,
the layer policy on the tiny step graph, and the `masks` command."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from edge_sdk import image_metrics as metrics
from edge_sdk.calibration.errors import RecipeError
from edge_sdk.calibration.observers import PercentileObserver, observer_class
from edge_sdk.calibration.policy import Exclusion
from edge_sdk.calibration.recipe import LayerRecipe, Recipe, load_recipe, qparams_range, save_recipe
from edge_sdk.calibration.sensitivity import choose_precisions, configuration
from edge_sdk.cli import main

# --- metrics ---------------------------------------------------------------------------------------


def test_psnr_matches_its_definition_and_the_mask_selects_pixels():
    expected = torch.zeros(1, 3, 8, 8)
    actual = expected.clone()
    actual[..., :4] = 0.1  # error 0.1 on the left half only
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 4:] = 1  # the right half: no error there
    assert metrics.psnr(actual, expected) == pytest.approx(10 * math.log10(1 / (0.01 / 2)), rel=1e-6)
    assert metrics.psnr(actual, expected, hole) == math.inf
    hole_left = 1 - hole
    assert metrics.psnr(actual, expected, hole_left) == pytest.approx(20.0, rel=1e-6)
    with pytest.raises(ValueError):
        metrics.mse(actual, expected, torch.zeros(1, 1, 8, 8))


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 64, 64, generator=generator)
    assert metrics.ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    slightly = (image + 0.02 * torch.randn(image.shape, generator=generator)).clamp(0, 1)
    badly = (image + 0.2 * torch.randn(image.shape, generator=generator)).clamp(0, 1)
    assert 1.0 > metrics.ssim(slightly, image) > metrics.ssim(badly, image) > 0.0
    # A constant shift changes only the luminance term: (2μxμy + C1)/(μx² + μy² + C1) on a flat image.
    flat = torch.full((1, 1, 32, 32), 0.5, dtype=torch.float64)
    c1 = (0.01) ** 2
    expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1)
    assert metrics.ssim(flat + 0.1, flat) == pytest.approx(expected, rel=1e-9)


def test_relative_error():
    assert metrics.relative_error(torch.tensor([3.0, 4.0]) * 1.1, torch.tensor([3.0, 4.0])) == pytest.approx(0.1)


# --- observers ---------------------------------------------------------------------------------------


def test_percentile_observer_clips_outliers_that_minmax_keeps():
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(200_000, generator=generator)
    data[0] = 80.0  # one outlier
    minmax = observer_class("minmax")(dtype=torch.int8, quant_min=-128, quant_max=127)
    percentile = PercentileObserver(percentile=99.9, dtype=torch.int8, quant_min=-128, quant_max=127)
    for chunk in data.split(50_000):  # several batches, as calibration feeds them
        minmax(chunk)
        percentile(chunk)
    minmax_scale, _ = minmax.calculate_qparams()
    percentile_scale, percentile_zero = percentile.calculate_qparams()
    # min-max stretches its grid to the outlier; the 99.9th percentile of N(0,1) is about 3.1.
    assert float(minmax_scale) * 255 > 80
    low, high = qparams_range(float(percentile_scale), int(percentile_zero))
    assert -4.0 < low < -2.5 and 2.5 < high < 4.0
    with pytest.raises(ValueError, match="unknown observer"):
        observer_class("entropy")



def test_mse_observer_on_a_subsample_chooses_the_full_histograms_range():
    from torchao.quantization.pt2e.observer import HistogramObserver

    generator = torch.Generator().manual_seed(0)
    int8 = dict(dtype=torch.int8, quant_min=-128, quant_max=127)
    subsampled, full = observer_class("mse")(**int8), HistogramObserver(**int8)
    batches = []
    # 40 batches of activations as big as the 0.2B model's (1×64×64×64), heavy-tailed, drifting, with an
    # outlier each: as many histogram counts as an 80-sample calibration gives the search.
    for shift in range(40):
        uniform = (torch.rand((1, 64, 64, 64), generator=generator) - 0.5).clamp(-0.4999, 0.4999)
        batch = 0.01 * shift - uniform.sign() * torch.log1p(-2 * uniform.abs())  # Laplace(0.01·shift, 1)
        batch.view(-1)[int(torch.randint(batch.numel(), (1,), generator=generator))] = 25.0 + shift / 10
        subsampled(batch)
        full(batch)
        batches.append(batch.reshape(-1)[::7])  # the errors below are measured on every 7th value
    # The range seen is exact (outliers included), though only a subsample was binned.
    assert float(subsampled.min_val) == float(full.min_val) and float(subsampled.max_val) == float(full.max_val)
    assert float(subsampled.histogram.sum()) < float(full.histogram.sum()) / 3
    # The grid it chooses quantizes the data about as well as the full histogram's grid.
    data = torch.cat(batches)

    def l2_error(observer):
        scale, zero_point = observer.calculate_qparams()
        rounded = torch.fake_quantize_per_tensor_affine(data, float(scale), int(zero_point), -128, 127)
        return float((rounded - data).square().mean())

    assert float(subsampled.calculate_qparams()[0]) == pytest.approx(float(full.calculate_qparams()[0]), rel=0.05)
    assert l2_error(subsampled) <= 1.05 * l2_error(full)


# --- the recipe format --------------------------------------------------------------------------------


def _recipe():
    qparams = {"input": (0.02, -3), "output": (0.05, 10)}
    return Recipe(
        layers={
            "denoiser.a.conv": LayerRecipe.int8("mse", qparams),
            "denoiser.b.conv": LayerRecipe("w8"),
            "denoiser.c.conv": LayerRecipe("fp16"),
            "denoiser.conv_in.conv_dw": LayerRecipe("fp32"),
        },
        excluded=(Exclusion("denoiser.conv_in.conv_dw", "conv_in: first layer"),),
        data_hash="ab" * 32,
        settings={"record": {"steps": 4}},
        model={"block_out_channels": [32, 64, 128], "weights_sha256": "cd" * 32},
        sdk_version="0.1.0",
    )


def test_recipe_round_trips_exactly(tmp_path):
    recipe = _recipe()
    path = save_recipe(recipe, tmp_path / "recipe.json")
    assert [p.name for p in tmp_path.iterdir()] == ["recipe.json"]  # no temporary file left behind
    loaded = load_recipe(path)
    assert loaded == recipe
    int8 = loaded.layers["denoiser.a.conv"]
    assert int8.activation_qparams["input"] == (0.02, -3)
    assert int8.activation_range["input"] == pytest.approx(((-128 + 3) * 0.02, (127 + 3) * 0.02))
    assert loaded.count("int8") == 1 and loaded.count("fp32") == 1


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda d: d.update(format="something-else"), "not a quantization recipe"),
        (lambda d: d.update(version=99), "version 99"),
        (lambda d: d.update(data_hash="xyz"), "sha256"),
        (lambda d: d["layers"]["denoiser.b.conv"].update(precision="int4"), "precision must be one of"),
        (lambda d: d["layers"]["denoiser.a.conv"].update(activation_range=None), "activation_range must be an object"),
        (lambda d: d["layers"]["denoiser.a.conv"]["activation_range"].update(input=[1.0, 2.0]), "not an int8 range"),
        (lambda d: d["layers"]["denoiser.a.conv"]["activation_range"].update(input=[-9.0, 2.0]), "does not match its scale"),
        (lambda d: d["layers"]["denoiser.a.conv"]["activation_qparams"]["input"].update(zero_point=300), "zero_point"),
        (lambda d: d["layers"]["denoiser.a.conv"].update(observer="entropy"), "observer must be one of"),
        (lambda d: d["layers"]["denoiser.b.conv"].update(activation_range={"input": [-1, 1], "output": None}), "must be null"),
        (lambda d: d.update(layers={}), "'layers' is empty"),
        (lambda d: d.update(excluded=[{"name": 3}]), "excluded[0]"),
    ],
)
def test_recipe_validation_names_the_problem(tmp_path, edit, fragment):
    document = _recipe().to_dict()
    edit(document)
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(document))
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_recipe_file_errors(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(RecipeError, match="not valid JSON"):
        load_recipe(tmp_path / "broken.json")
    with pytest.raises(RecipeError, match="output folder does not exist"):
        save_recipe(_recipe(), tmp_path / "nope" / "recipe.json")


# --- the precision search -------------------------------------------------------------------------------


ORDER = [f"layer{i}" for i in range(40)]


def _psnr_model(sensitive: dict[str, float], base: float = 45.0):
    """A synthetic PSNR: each int8 layer costs its sensitivity in dB, w8 a fifth of it, fp16 nothing."""

    def evaluate(precisions):
        cost = {"int8": 1.0, "w8": 0.2, "fp16": 0.0}
        return base - sum(sensitive.get(name, 0.05) * cost[p] for name, p in precisions.items())

    return evaluate


def test_search_keeps_everything_int8_when_the_target_is_met():
    choice = choose_precisions(ORDER, _psnr_model({}), target_psnr_db=35.0)
    assert set(choice.precisions.values()) == {"int8"} and choice.meets_target
    assert len(choice.evaluations) == 1


def test_search_moves_the_fewest_most_sensitive_layers_to_w8():
    sensitive = {name: 2.0 for name in ORDER[:6]}  # 12 dB from the first six layers, 1.7 dB from the rest
    choice = choose_precisions(ORDER, _psnr_model(sensitive), target_psnr_db=35.0)
    # All int8 costs 12 + 34 × 0.05 = 13.7 dB (31.3 dB). Each of the six moved to w8 saves 1.6 dB, so the
    # smallest prefix that reaches 35 dB is three layers.
    assert [choice.precisions[name] for name in ORDER[:6]] == ["w8"] * 3 + ["int8"] * 3
    assert all(choice.precisions[name] == "int8" for name in ORDER[6:])
    assert choice.meets_target and choice.psnr_db >= 35.0
    assert len(choice.evaluations) <= 8


def test_search_falls_back_to_fp16_for_the_worst_layers():
    sensitive = {ORDER[0]: 60.0, ORDER[1]: 30.0}  # even in w8 these two cost 18 dB
    choice = choose_precisions(ORDER, _psnr_model(sensitive), target_psnr_db=35.0)
    assert choice.meets_target
    assert choice.precisions[ORDER[0]] == "fp16"
    assert choice.precisions[ORDER[1]] in ("fp16", "w8")
    assert sum(p == "int8" for p in choice.precisions.values()) >= 30  # the tail went back to int8


def test_search_reports_an_unreachable_target_and_a_spent_budget():
    choice = choose_precisions(ORDER, lambda precisions: 20.0, target_psnr_db=35.0)
    assert not choice.meets_target and choice.psnr_db == 20.0
    short = choose_precisions(ORDER, _psnr_model({n: 2.0 for n in ORDER[:6]}), target_psnr_db=35.0, max_evaluations=2)
    assert short.budget_exhausted and len(short.evaluations) == 2


def test_configuration_prefixes():
    assert configuration(["a", "b", "c", "d"], 1, 3) == {"a": "fp16", "b": "w8", "c": "w8", "d": "int8"}


# --- the layer policy ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_step():
    from edge_sdk.checkpoint import build_denoiser
    from edge_sdk.deploy.schedule import ddim_schedule
    from edge_sdk.deploy.step import build_step

    return build_step(build_denoiser("tiny"), ddim_schedule(4), 2.5)


def test_policy_keeps_the_timestep_path_conv_in_conv_out_and_lambda_softmax_inputs_out(tiny_step):
    from edge_sdk.calibration.policy import QuantPolicy, plan_layers, quantizable_layers

    plan = plan_layers(tiny_step)
    reasons = {item.name: item.reason for item in plan.excluded}
    layers = quantizable_layers(tiny_step)
    assert set(plan.candidates) | {e.name for e in plan.excluded_layers} == set(layers)
    for name in layers:
        if ".conv_in." in name:
            assert reasons[name].startswith("conv_in")
        if ".conv_out." in name:
            assert reasons[name].startswith("conv_out")
        if name.endswith("time_emb_proj"):
            assert "timestep" in reasons[name]
        if name.endswith("attn1.to_k"):
            assert "softmax" in reasons[name]
    assert any(name.endswith("time_emb_proj") for name in reasons)
    assert any("λ internals" in reason for reason in reasons.values())
    assert all(".conv_in." not in n and ".conv_out." not in n and "time_emb_proj" not in n for n in plan.candidates)
    assert len(plan.candidates) > 150  # every other conv of the UNet is a candidate
    extra = QuantPolicy(extra_exclusions=(plan.candidates[0],))
    assert plan.candidates[0] not in plan_layers(tiny_step, extra).candidates
    with pytest.raises(ValueError, match="not a Conv2d/Linear layer"):
        plan_layers(tiny_step, QuantPolicy(extra_exclusions=("denoiser.nothing",)))


# --- the masks command ---------------------------------------------------------------------------------


def test_masks_command_writes_seeded_masks(tmp_path, capsys):
    out = tmp_path / "masks"
    assert main(["masks", "--count", "6", "--size", "64", "--seed", "3", "-o", str(out)]) == 0
    files = sorted(out.iterdir())
    assert len(files) == 6
    again = tmp_path / "again"
    assert main(["masks", "--count", "6", "--size", "64", "--seed", "3", "-o", str(again)]) == 0
    for first, second in zip(files, sorted(again.iterdir())):
        assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))
        ratio = float((np.asarray(Image.open(first)) > 127).mean())
        assert 0.1 <= ratio < 0.5


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--count", "-1"], "non-negative"),
        (["--count", "2", "--kinds", "spiral"], "unknown mask kind"),
        (["--count", "2", "--size", "0"], "size must be positive"),
    ],
)
def test_masks_command_errors(tmp_path, capsys, argv, fragment):
    code = main(["masks", *argv, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("moebius-edge: error")]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err
