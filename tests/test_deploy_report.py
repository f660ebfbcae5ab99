"""`describe_model` / `format_model_report`: the numbers behind `moebius-edge info --model ...`."""
import pytest

from edge_sdk.checkpoint import build_denoiser
from edge_sdk.deploy.census import constant_count, parameter_count
from edge_sdk.deploy.report import describe_model, format_model_report
from edge_sdk.deploy.schedule import ddim_schedule
from edge_sdk.deploy.step import build_step

# Counted on the official code (docs/architecture.md, "The model", size): parameters, and GFLOP of one batch-1 forward.
OFFICIAL_PARAMETERS_0_2B = 226_041_531
OFFICIAL_GFLOP_PER_FORWARD_0_2B = 315.98


def test_tiny_report_counts_what_the_graphs_hold():
    report = describe_model("tiny")
    denoiser = build_denoiser("tiny")
    schedule = ddim_schedule(20, 1.0)
    assert report["denoiser_parameters"] == parameter_count(denoiser)
    for label, optimize in (("unoptimized", False), ("optimized", True)):
        step = build_step(denoiser, schedule, 2.5, optimize=optimize)
        assert report["step"][label]["parameters"] == parameter_count(step)
        assert report["step"][label]["stored_elements"] == constant_count(step)
    before, after = report["step"]["unoptimized"], report["step"]["optimized"]
    assert (before["batch_norm_layers"], before["conv3d_layers"]) == (124, 15)
    assert (after["batch_norm_layers"], after["conv3d_layers"]) == (0, 0)
    assert 0 < after["flops"] < before["flops"]
    assert report["vae"]["encode_flops"] > 0 and report["vae_encodes"] == 1
    assert report["run_flops"]["optimized"] == 20 * after["flops"] + report["vae"]["encode_flops"] + report["vae"]["decode_flops"]
    text = format_model_report(report)
    assert "model tiny" in text and f"{before['parameters']:,}" in text and f"{after['parameters']:,}" in text
    assert "GFLOP per step" in text


def test_moebius_0_2b_report_matches_the_spec_and_saves_parameters():
    report = describe_model("moebius-0.2b")  # architecture only: counted on the meta device
    before, after = report["step"]["unoptimized"], report["step"]["optimized"]
    assert report["denoiser_parameters"] == OFFICIAL_PARAMETERS_0_2B == before["parameters"]
    # The folds save ~2.4M elements; the row-factored positional convolution of the map-form λ blocks stores each
    # layer's 15×15 filters once per value channel (+31M), which buys the int8 step its speed. Bounded here.
    assert report["denoiser_parameters"] < after["stored_elements"] < 1.15 * report["denoiser_parameters"]
    # A CFG step is two forwards; ours is ~1% below the spec's count because the Interactive-λ
    # position term is contracted in its cheaper order (docs/architecture.md, Interactive-λ) even before optimisation.
    assert before["flops"] / 1e9 == pytest.approx(2 * OFFICIAL_GFLOP_PER_FORWARD_0_2B, rel=0.02)
    assert after["flops"] < before["flops"]
    assert report["vae"]["parameters"] == 83_653_863  # PixelHacker's VAE (docs/architecture.md, "The pipeline")
    assert "moebius-0.2b" in format_model_report(report)


def test_report_with_checkpoint_loads_it(reference_dir):
    report = describe_model("tiny", reference_dir / "tiny" / "diffusion_pytorch_model.bin", vae="tiny")
    assert report["checkpoint"].endswith("diffusion_pytorch_model.bin")
    assert report["denoiser_parameters"] == 6_280_179  # reference README
    assert report["step"]["optimized"]["parameters"] < report["denoiser_parameters"]
