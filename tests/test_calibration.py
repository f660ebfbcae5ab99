"""Calibration on the tiny model: the `calibrate` command end to end (2 images × 4 recorded steps), the recipe
reproduced through PT2E, trajectory against single-timestep calibration, and the cached calibration set.

The same check through ExecuTorch's runtime is test_backends_executorch's drift test: the int8 bundle's step
graph (the recipe lowered by the SDK's own export) drifts as `calibrate` predicted.

One calibration run is shared by the module (it takes most of this file's time).
"""
import dataclasses
import json
import math

import pytest
import torch

from edge_sdk.calibration import dataset, drift, pt2e
from edge_sdk.calibration.recipe import load_recipe
from edge_sdk.cli import main

STEPS = 4
IMAGES = 2
OBSERVER = "minmax"  # the cheapest observer to run; the others are exercised in test_calibration_parts
TOLERANCE_DB = 1.0


@pytest.fixture(scope="module")
def tiny_graphs():
    from edge_sdk.checkpoint import build_denoiser
    from edge_sdk.deploy import DeployGraphs
    from edge_sdk.vae import build_vae

    denoiser, vae = build_denoiser("tiny"), build_vae("tiny")
    return denoiser, vae, DeployGraphs.build(denoiser, vae, steps=STEPS)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """`moebius-edge calibrate` on tiny: 2 images × 4 recorded steps of a 4-step schedule."""
    root = tmp_path_factory.mktemp("calibrate")
    argv = [
        "calibrate", "--model", "tiny", "--num-images", str(IMAGES), "--steps", str(STEPS), "--steps-per-image", str(STEPS),
        "--observer", OBSERVER, "--eval-images", str(IMAGES), "--sensitivity-samples", "2", "--epsilon-layers", "3",
        "--max-evaluations", "3", "--cache-dir", str(root / "cache"), "-o", str(root / "recipe.json"), "--report", str(root / "report"),
    ]
    code = main(argv)
    assert code == 0
    return root


def test_calibrate_writes_a_valid_recipe_and_report(calibrated):
    recipe = load_recipe(calibrated / "recipe.json")  # validates the whole format
    report = json.loads((calibrated / "report" / "report.json").read_text())
    assert sorted(p.name for p in (calibrated / "report").iterdir()) == ["drift.png", "grid.png", "report.json", "report.md"]
    assert sorted(p.name for p in calibrated.iterdir()) == ["cache", "recipe.json", "report"]  # nothing half-written

    # The exclusions, with their reasons, in both files.
    reasons = {item["name"]: item["reason"] for item in report["excluded"]}
    assert {item.name: item.reason for item in recipe.excluded} == reasons
    assert reasons["denoiser.conv_in.conv_dw"].startswith("conv_in") and reasons["denoiser.conv_in.conv_pw"].startswith("conv_in")
    assert reasons["denoiser.conv_out.conv_pw"].startswith("conv_out")
    time_path = [name for name in reasons if name.endswith("time_emb_proj")]
    assert len(time_path) == 15 and all("timestep-embedding path" in reasons[name] for name in time_path)
    for name in list(reasons)[:40]:
        if name in recipe.layers:
            assert recipe.layers[name].precision == "fp32"

    # Every candidate got a precision, int8 layers their activation grids.
    assert recipe.count("int8") + recipe.count("w8") + recipe.count("fp16") > 150
    for name, layer in recipe.layers.items():
        if layer.precision == "int8":
            assert layer.observer == OBSERVER and layer.activation_qparams["input"] is not None
    assert recipe.data_hash == report["data_hash"] and recipe.settings["record"]["steps_per_image"] == STEPS

    # The drift numbers.
    for key in ("psnr_db", "psnr_hole_db", "ssim", "ssim_hole"):
        assert isinstance(report[key], float) and math.isfinite(report[key])
    assert report["meets_target"] == (report["psnr_db"] >= 35.0)
    assert len(report["per_step_rel_err"]) == STEPS
    for row in report["per_step_rel_err"]:
        assert 0 < row["latent"] < 0.5 and 0 < row["epsilon"] < 2.0
    assert 0.5 < report["ssim"] <= 1.0
    assert report["calibration_samples"] == IMAGES * STEPS

    # Sensitivity: every candidate has a local error, the worst few an ε error; a single layer in int8 is a
    # small perturbation (a broken quantizer mapping shows up here as errors near 1).
    rows = report["sensitivity"]
    assert len(rows) == recipe.count("int8") + recipe.count("w8") + recipe.count("fp16")
    assert sum(row["epsilon_int8"] is not None for row in rows) == 3
    # The row shifts of the positional convolution (one-hot filters; the ten Local-λ layers above 16×16) are exact
    # with int8 weights; every other
    # layer loses a little to int8 weights and more to int8 activations.
    shifts = [row for row in rows if row["name"].endswith(".pos_shift")]
    assert len(shifts) == 10 and all(row["local_w8"] == 0 and row["local_int8"] < 0.2 for row in shifts)
    assert all(0 < row["local_w8"] < row["local_int8"] < 0.2 for row in rows if row not in shifts)
    assert all(0 < row["epsilon_int8"] < 0.5 for row in rows if row["epsilon_int8"] is not None)
    markdown = (calibrated / "report" / "report.md").read_text()
    assert "Kept out of int8" in markdown and "conv_in" in markdown


def _calibration_set(calibrated, recipe):
    return dataset.CalibrationSet.load(calibrated / "cache" / recipe.data_hash)


def test_recipe_through_pt2e_reproduces_the_reported_psnr(calibrated, tiny_graphs):
    """The report's numbers come from the switchable fake-quantized graph; the recipe applied by PT2E
    (prepare, the recipe's own int8 grids, convert to quantize/dequantize ops) must agree."""
    _, _, graphs = tiny_graphs
    recipe = load_recipe(calibrated / "recipe.json")
    report = json.loads((calibrated / "report" / "report.json").read_text())
    calibration_set = _calibration_set(calibrated, recipe)
    sample = calibration_set.sample(0, 1)
    from_recipe = pt2e.quantize_step_graph(graphs.step, recipe, example_inputs=sample)
    assert sum("quantize_per_tensor" in str(n.target) for n in from_recipe.graph.nodes) > 100  # real q/dq ops
    # Running the observers again on the calibration samples gives the very same int8 grids.
    from_samples = pt2e.quantize_step_graph(graphs.step, recipe, calibration_set.samples())
    with torch.no_grad():
        assert torch.equal(from_samples(*sample), from_recipe(*sample))
    measured = drift.measure_drift(from_recipe, calibration_set, graphs.decode, graphs.schedule, list(range(IMAGES)))
    print(f"final-image PSNR: report {report['psnr_db']:.2f} dB, PT2E graph {measured.psnr_db:.2f} dB")
    assert abs(measured.psnr_db - report["psnr_db"]) <= TOLERANCE_DB, (measured.psnr_db, report["psnr_db"])
    assert abs(measured.psnr_hole_db - report["psnr_hole_db"]) <= TOLERANCE_DB


def test_trajectory_against_single_timestep_calibration(calibrated, tiny_graphs):
    """Same number of samples (8): 2 images × 4 steps of their trajectories, or 2 images × 4 noises at step 2,
    both with the min-max observer, every candidate in int8, measured on the same two images.

    Whether the trajectory wins on final-image PSNR is measured, not assumed: on tiny's random weights the
    two are close (the numbers are printed and in the calibration issue's closing note). What holds is that
    one timestep's ranges do not cover what the other timesteps produce.
    """
    from edge_sdk.calibration.fake_quant import SwitchableQuantGraph
    from edge_sdk.calibration.policy import plan_layers

    denoiser, vae, graphs = tiny_graphs
    recipe = load_recipe(calibrated / "recipe.json")
    report = json.loads((calibrated / "report" / "report.json").read_text())
    trajectory_set = _calibration_set(calibrated, recipe)
    first = report["search"]["evaluations"][0]
    assert (first["fp16"], first["w8"]) == (0, 0)  # the search starts from every candidate in int8
    trajectory_psnr = first["psnr_db"]

    images = dataset.load_images(None, None, IMAGES, graphs.config.image_size)
    single_settings = dataset.RecordSettings(steps=STEPS, steps_per_image=1, noises_per_image=4, only_step=2)
    single_set = dataset.record(graphs, images, single_settings, dataset.model_digest(denoiser, vae), progress=False)
    assert len(single_set.samples()) == len(trajectory_set.samples()) == IMAGES * STEPS
    assert {int(s[3]) for s in single_set.samples()} == {2}

    plan = plan_layers(graphs.step)
    graph = SwitchableQuantGraph(pt2e.export_step(graphs.step, trajectory_set.sample(0, 0)), plan.candidates, OBSERVER)
    graph.calibrate(single_set.samples())
    graph.freeze()
    graph.set_precisions({name: "int8" for name in plan.candidates})
    single_psnr = drift.measure_drift(graph, trajectory_set, graphs.decode, graphs.schedule, list(range(IMAGES))).psnr_db
    print(f"final-image PSNR, every candidate int8: trajectory {trajectory_psnr:.2f} dB, single step {single_psnr:.2f} dB")
    assert math.isfinite(single_psnr) and single_psnr > 20 and math.isfinite(trajectory_psnr)

    # Min-max ranges: the trajectory's cover all 8 of its samples; count the layers whose input range from
    # the single timestep misses part of the trajectory's.
    single = graph.activation_qparams()
    narrower = 0
    for name, layer in recipe.layers.items():
        if layer.precision != "int8":
            continue
        low, high = layer.activation_range["input"]
        scale, zero_point = single[name]["input"]
        single_low, single_high = (-128 - zero_point) * scale, (127 - zero_point) * scale
        narrower += single_low > low + scale or single_high < high - scale
    print(f"layers whose single-step input range misses part of the trajectory's: {narrower} of {recipe.count('int8')}")
    assert narrower > recipe.count("int8") // 10


def test_calibration_set_is_cached_by_content(tiny_graphs, tmp_path):
    denoiser, vae, graphs = tiny_graphs
    images = dataset.load_images(None, None, 1, graphs.config.image_size)
    model_hash = dataset.model_digest(denoiser, vae)
    settings = dataset.RecordSettings(steps=STEPS, steps_per_image=2)
    first, cached = dataset.load_or_record(graphs, images, settings, model_hash, tmp_path, progress=False)
    assert not cached and first.retained == (0, STEPS - 1)
    again, cached = dataset.load_or_record(graphs, images, settings, model_hash, tmp_path, progress=False)
    assert cached and again.data_hash == first.data_hash
    assert torch.equal(again.trajectories, first.trajectories)
    # The samples are the step graph's real inputs: running the step on one gives the next recorded latent.
    x, masked, mask_latent, i = first.sample(0, 0)
    with torch.no_grad():
        assert torch.allclose(graphs.step(x, masked, mask_latent, i), first.trajectories[0, 1][None], atol=1e-5)
    # Anything that changes the data changes the key.
    config = graphs.config
    other_seed = dataset.data_hash(model_hash, config, dataset.load_images(None, None, 1, config.image_size, seed=1), settings, graphs.timesteps)
    other_steps = dataset.data_hash(model_hash, config, images, dataset.RecordSettings(steps=STEPS, steps_per_image=3), graphs.timesteps)
    other_model = dataset.data_hash("0" * 64, config, images, settings, graphs.timesteps)
    # Same weights, another hole fill: the encode graph's latents differ, so must the key.
    other_fill = dataset.data_hash(model_hash, dataclasses.replace(config, hole_fill="pyramid"), images, settings, graphs.timesteps)
    assert len({first.data_hash, other_seed, other_steps, other_model, other_fill}) == 5


def test_user_masks_are_matched_by_name(tmp_path):
    from PIL import Image

    from edge_sdk.calibration.errors import CalibrationError

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.new("RGB", (96, 64), (200, 100, 50)).save(tmp_path / "images" / "wide.png")
    hole = Image.new("L", (96, 64), 0)
    hole.paste(255, (40, 20, 60, 40))
    hole.save(tmp_path / "masks" / "wide_mask.png")
    (item,) = dataset.load_images(tmp_path / "images", tmp_path / "masks", 1, 64)
    assert item.image.shape == (1, 3, 64, 64) and item.mask.shape == (1, 1, 64, 64)
    # Centre-cropped to 64×64 from x = 16: the 20×20 hole lands at x 24..44, y 20..40.
    assert float(item.mask.sum()) == 400 and float(item.mask[0, 0, 30, 30]) == 1
    Image.new("RGB", (64, 64)).save(tmp_path / "images" / "other.png")
    with pytest.raises(CalibrationError, match="no mask for other.png"):
        dataset.load_images(tmp_path / "images", tmp_path / "masks", 2, 64)
    with pytest.raises(CalibrationError, match="only 2"):
        dataset.load_images(tmp_path / "images", tmp_path / "masks", 3, 64)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--num-images", "0"], "number of images must be at least 1"),
        (["--eval-images", "9"], "evaluation images"),
        (["--target-psnr", "-3"], "target PSNR"),
        (["--images", "/nonexistent-folder"], "image folder not found"),
        (["--model", "tiny", "--steps", "4", "--steps-per-image", "5"], "schedule has only 4 steps"),
        (["--steps", "4", "--steps-per-image", "3"], "schedule has only 2 steps"),  # nano runs half the steps by default
    ],
)
def test_calibrate_command_errors(tmp_path, capsys, argv, fragment):
    code = main(["calibrate", *argv, "--no-cache", "-o", str(tmp_path / "recipe.json"), "--report", str(tmp_path / "report")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("moebius-edge: error")]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "recipe.json").exists() and not (tmp_path / "report").exists()
