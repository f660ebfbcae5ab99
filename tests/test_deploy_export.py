"""torch.export of the three graphs: static shapes, strict (TorchDynamo) tracing, no BatchNorm or Conv3d left."""
import time

import pytest
import torch
from diffusers import AutoencoderKL

from edge_sdk.checkpoint import build_denoiser
from edge_sdk.config import MODEL_CONFIGS
from edge_sdk.deploy import GRAPH_NAMES, DeployGraphs
from edge_sdk.deploy.census import batch_norm_ops, constant_count, conv3d_ops, op_counts, parameter_count
from edge_sdk.model import MoebiusDenoiser
from edge_sdk.vae import PIXELHACKER_VAE_CONFIG, build_vae

MAX_CONSTANT_GROWTH_0_2B = 0.15  # share of the official parameter count


def rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def tiny_graphs():
    return DeployGraphs.build(build_denoiser("tiny"), build_vae("tiny"), steps=20, strength=0.99, optimize=True)


@pytest.fixture(scope="module")
def tiny_programs(tiny_graphs):
    return tiny_graphs.export(strict=True)


def test_tiny_graphs_export_and_run_like_the_modules(tiny_graphs, tiny_programs):
    inputs = tiny_graphs.example_inputs()
    assert set(tiny_programs) == set(GRAPH_NAMES)
    with torch.no_grad():
        for name, program in tiny_programs.items():
            expected = getattr(tiny_graphs, name)(*inputs[name])
            actual = program.module()(*inputs[name])
            expected = expected if isinstance(expected, tuple) else (expected,)
            actual = actual if isinstance(actual, tuple) else (actual,)
            assert len(actual) == len(expected) == {"encode": 3, "step": 1, "decode": 1}[name]
            for a, e in zip(actual, expected):
                assert a.shape == e.shape and rel(a, e) < 1e-6, name


def test_exported_step_has_no_batch_norm_no_conv3d_and_a_tensor_step_index(tiny_programs):
    step = tiny_programs["step"]
    assert batch_norm_ops(step) == 0 and conv3d_ops(step) == 0
    assert op_counts(step)["aten.conv2d.default"] > 0
    # The graph takes i as a tensor input: one program serves every step (no value baked into the trace).
    user_inputs = set(step.graph_signature.user_inputs)
    shapes = [tuple(n.meta["val"].shape) for n in step.graph.nodes if n.op == "placeholder" and n.name in user_inputs]
    assert shapes == [(1, 4, 64, 64), (1, 4, 64, 64), (1, 1, 64, 64), (1,)]
    # Static shapes: no symbolic sizes anywhere.
    assert not step.range_constraints


def test_unoptimized_step_still_has_them():
    """The census is not vacuous: the official structure exports 124 BatchNorms and 15 Conv3d."""
    graphs = DeployGraphs.build(build_denoiser("tiny"), build_vae("tiny"), steps=20, optimize=False)
    step = graphs.export(names=("step",), strict=False)["step"]
    assert batch_norm_ops(step) == 124 and conv3d_ops(step) == 15


@pytest.mark.slow
def test_moebius_0_2b_graphs_export():
    """The full-size graphs, built and exported on the meta device (shapes only: seconds, ~0.5 GB)."""
    with torch.device("meta"):
        denoiser = MoebiusDenoiser(MODEL_CONFIGS["moebius-0.2b"]).eval()
        vae = AutoencoderKL(**PIXELHACKER_VAE_CONFIG).eval()
    graphs = DeployGraphs.build(denoiser, vae, steps=20, strength=0.99, optimize=True)
    # The folds save ~2.4M constants; the row-factored positional convolutions store each layer's filters once
    # per value channel (+31M) for the int8 step's speed (edge_sdk/deploy/passes/lambda_blocks_on_maps.py).
    growth = constant_count(graphs.step) - parameter_count(denoiser)
    assert 0 < growth < MAX_CONSTANT_GROWTH_0_2B * parameter_count(denoiser), growth

    timings = {}
    start = time.perf_counter()
    programs = graphs.export(strict=True, timings=timings)
    print(f"moebius-0.2b export: {timings} ({time.perf_counter() - start:.1f} s)")
    assert set(programs) == set(GRAPH_NAMES)
    assert batch_norm_ops(programs["step"]) == 0 and conv3d_ops(programs["step"]) == 0
    outputs = [n for n in programs["step"].graph.nodes if n.op == "output"][0].args[0]
    assert tuple(outputs[0].meta["val"].shape) == (1, 4, 64, 64)
    encode_outputs = [n for n in programs["encode"].graph.nodes if n.op == "output"][0].args[0]
    assert [tuple(o.meta["val"].shape) for o in encode_outputs] == [(1, 4, 64, 64), (1, 1, 64, 64), (1, 4, 64, 64)]
