"""Each deployment rewrite is exact: float64, module by module, on the tiny reference checkpoint.

The checkpoint has randomised BatchNorm statistics and position tables, so every fold is exercised.
Whole-model agreement of all passes together is checked against the golden trajectory in
test_deploy_graphs.py (in fp32, as deployed). The two rewrites a backend opts into (time projections, int8
position tables) are checked on the fp32 tiny step graph.
"""
import copy
import math

import pytest
import torch
from torch import nn

from edge_sdk.deploy.passes import (
    fold_batch_norm,
    fold_interactive_lambda_context,
    fold_timestep_embedding,
    lambda_blocks_on_maps,
    local_lambda_conv3d_to_conv2d,
    optimize_step_denoiser,
    upsample_as_phase_convolution,
)
from edge_sdk.deploy.passes.fold_interactive_lambda_context import FoldedInteractiveLambda
from edge_sdk.deploy.passes.fold_time_projections import ResnetBlockWithTimeRow, fold_time_projections
from edge_sdk.deploy.passes.fold_timestep_embedding import StepTable
from edge_sdk.deploy.passes.lambda_blocks_on_maps import MapInteractiveLambda, MapLocalLambda, MapTransformer
from edge_sdk.deploy.passes.local_lambda_as_relative_scores import RelativeScoreLocalLambda
from edge_sdk.deploy.passes.local_lambda_conv3d_to_conv2d import LocalLambdaConv2d
from edge_sdk.deploy.passes.resnet_shortcut_first import ShortcutFirstResnetBlock
from edge_sdk.deploy.passes.upsample_as_phase_convolution import PhaseUpsample
from edge_sdk.deploy.passes.position_tables_as_int8 import position_tables_as_int8
from edge_sdk.deploy.schedule import ddim_schedule
from edge_sdk.deploy.step_denoiser import StepDenoiser
from edge_sdk.model import DepthwiseSeparableConv, InteractiveLambda, LocalLambda, Transformer, Upsample, cfg_input_ids

from conftest import relative_error

EXACT = 1e-12  # float64


def rel(a, b):
    return float((a - b).norm() / b.norm())


def random_map(channels, side, seed):
    return torch.randn(2, channels, side, side, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def step64(tiny_reference_denoiser):
    denoiser = copy.deepcopy(tiny_reference_denoiser).double()
    return StepDenoiser(denoiser, torch.tensor(ddim_schedule(20, 0.99).timesteps)).eval()


def modules_of(module, kind):
    return {name: m for name, m in module.named_modules() if type(m) is kind}


def test_fold_batch_norm_is_exact(step64):
    folded = fold_batch_norm(copy.deepcopy(step64))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    checked = 0
    with torch.no_grad():
        for kind in (DepthwiseSeparableConv, LocalLambda):
            after = modules_of(folded, kind)
            for name, before in modules_of(step64, kind).items():
                channels = before.conv_dw.in_channels if kind is DepthwiseSeparableConv else before.to_q.in_channels
                x = random_map(channels, 12, checked)
                assert rel(after[name](x), before(x)) < EXACT, name
                checked += 1
        context = step64.context()
        after = modules_of(folded, InteractiveLambda)
        for name, before in modules_of(step64, InteractiveLambda).items():
            x = random_map(before.to_q.in_channels, math.isqrt(before.rel_pos_emb.shape[0]), checked)
            assert rel(after[name](x, context), before(x, context)) < EXACT, name
            checked += 1
    assert checked == 32 + 15 + 15  # every DWSep, Local-λ and Interactive-λ of the model


def test_fold_interactive_lambda_context_is_exact(step64):
    context = step64.context()
    assert context.shape[0] == 2  # the CFG batch, built from cfg_input_ids
    assert torch.equal(step64.context.input_ids, cfg_input_ids())
    folded = fold_interactive_lambda_context(copy.deepcopy(step64))
    assert folded.context is None
    after = modules_of(folded, FoldedInteractiveLambda)
    assert len(after) == 15 and not modules_of(folded, InteractiveLambda)
    with torch.no_grad():
        for j, (name, before) in enumerate(modules_of(step64, InteractiveLambda).items()):
            x = random_map(before.to_q.in_channels, math.isqrt(before.rel_pos_emb.shape[0]), j)
            assert rel(after[name](x), before(x, context)) < EXACT, name
    # Tiny's dv is 4, 8, 16: both ways of folding the content lambda are exercised.
    assert {m.content_via_tokens for m in after.values()} == {True, False}


def test_local_lambda_conv3d_to_conv2d_is_exact(step64):
    rewritten = local_lambda_conv3d_to_conv2d(copy.deepcopy(step64))
    after = modules_of(rewritten, LocalLambdaConv2d)
    assert len(after) == 15 and not any(isinstance(m, nn.Conv3d) for m in rewritten.modules())
    with torch.no_grad():
        for j, (name, before) in enumerate(modules_of(step64, LocalLambda).items()):
            x = random_map(before.to_q.in_channels, 20, j)
            assert rel(after[name](x), before(x)) < EXACT, name


def test_lambda_blocks_on_maps_is_exact(step64):
    folded = fold_batch_norm(local_lambda_conv3d_to_conv2d(fold_interactive_lambda_context(copy.deepcopy(step64))))
    before = modules_of(folded, Transformer)
    rewritten = lambda_blocks_on_maps(copy.deepcopy(folded))
    after = modules_of(rewritten, MapTransformer)
    assert len(after) == len(before) == 15 and not modules_of(rewritten, Transformer)
    local_forms = modules_of(rewritten, MapLocalLambda) | modules_of(rewritten, RelativeScoreLocalLambda)
    assert len(local_forms) == len(modules_of(rewritten, MapInteractiveLambda)) == 15
    # The 16×16 level's five blocks (the window covers most of the map) take the relative-score form.
    assert {m.side for m in modules_of(rewritten, RelativeScoreLocalLambda).values()} == {16}
    assert len(modules_of(rewritten, RelativeScoreLocalLambda)) == 5
    with torch.no_grad():
        for j, (name, original) in enumerate(before.items()):
            channels = original.proj_in.in_channels
            side = math.isqrt(original.transformer_blocks[0].attn2.position_embedding.shape[0])
            x = random_map(channels, side, j)
            assert rel(after[name](x), original(x, None)) < EXACT, name
    # The position convolution is factored into one-hot row shifts and r×1 columns: each tap reads r channels.
    local = next(iter(modules_of(rewritten, MapLocalLambda).values()))
    r = local.pos_conv.kernel_size[0]
    assert local.pos_shift.weight.sum() == local.pos_shift.out_channels and local.pos_conv.in_channels == local.pos_conv.groups * r


def test_upsample_as_phase_convolution_is_exact(step64):
    before = modules_of(step64, Upsample)
    rewritten = upsample_as_phase_convolution(copy.deepcopy(step64))
    after = modules_of(rewritten, PhaseUpsample)
    assert len(after) == len(before) == 2 and not modules_of(rewritten, Upsample)
    with torch.no_grad():
        for j, (name, original) in enumerate(before.items()):
            x = random_map(original.conv.in_channels, 16, j)
            assert rel(after[name](x), original(x)) < EXACT, name
            # 16 multiply-adds per output pixel and channel pair instead of 36.
            assert after[name].conv.kernel_size == (2, 2) and after[name].conv.out_channels == 4 * original.conv.out_channels


def test_phase_upsample_without_bias_is_exact():
    conv = nn.Conv2d(6, 5, 3, padding=1, bias=False).double()
    x = random_map(6, 7, 0)
    with torch.no_grad():
        expected = conv(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
        assert rel(PhaseUpsample(conv)(x), expected) < EXACT


def test_vae_decoder_upsamplers_run_as_phase_convolutions():
    from edge_sdk.deploy.decode import DecodeGraph
    from edge_sdk.pipeline import InpaintPipeline

    vae = InpaintPipeline.from_preset("tiny").vae.double().eval()
    decoder, reference = DecodeGraph(vae).decoder, vae.decoder
    assert len(modules_of(decoder, PhaseUpsample)) == len([m for m in reference.modules() if type(m).__name__ == "Upsample2D"]) > 0
    z = torch.randn(1, reference.conv_in.in_channels, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        assert rel(decoder(z), reference(z)) < EXACT


def test_vae_decoder_blocks_with_a_shortcut_take_it_first_with_identical_results():
    """Reordering independent operations changes no bit; every block with a 1×1 shortcut is rewritten."""
    from edge_sdk.deploy.decode import DecodeGraph
    from edge_sdk.pipeline import InpaintPipeline

    vae = InpaintPipeline.from_preset("tiny").vae.eval()
    decoder, reference = DecodeGraph(vae).decoder, vae.decoder
    with_shortcut = {name for name, m in reference.named_modules() if type(m).__name__ == "ResnetBlock2D" and m.conv_shortcut is not None}
    rewritten = modules_of(decoder, ShortcutFirstResnetBlock)
    assert set(rewritten) == with_shortcut and with_shortcut
    name = sorted(rewritten)[0]
    block, original = rewritten[name], reference.get_submodule(name)
    x = torch.randn(1, block.conv_shortcut.in_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(block(x), original(x, None))


def test_lambda_blocks_on_maps_needs_the_batch_norm_fold(step64):
    unfolded = local_lambda_conv3d_to_conv2d(fold_interactive_lambda_context(copy.deepcopy(step64)))
    with pytest.raises(ValueError, match="after fold_batch_norm"):
        lambda_blocks_on_maps(unfolded)


def test_fold_timestep_embedding_is_exact(step64):
    rewritten = fold_timestep_embedding(copy.deepcopy(step64))
    assert isinstance(rewritten.time, StepTable)
    assert rewritten.time.table.shape == (19, step64.time.time_embedding.linear_2.out_features)
    with torch.no_grad():
        for i in range(19):
            index = torch.tensor([i])
            assert torch.equal(rewritten.time(index), step64.time(index))


def test_optimize_rewrites_a_copy(step64):
    before = {k: v.clone() for k, v in step64.state_dict().items()}
    optimized = optimize_step_denoiser(step64)
    kinds = {type(m) for m in optimized.modules()}
    replaced = {LocalLambda, InteractiveLambda, LocalLambdaConv2d, FoldedInteractiveLambda, Transformer}
    assert not kinds & (replaced | {nn.Conv3d, nn.Embedding, nn.BatchNorm1d, nn.BatchNorm2d})
    after = step64.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    # Running a pass again changes nothing.
    again = lambda_blocks_on_maps(
        fold_batch_norm(local_lambda_conv3d_to_conv2d(fold_timestep_embedding(fold_interactive_lambda_context(optimized))))
    )
    assert [type(m) for m in again.modules()] == [type(m) for m in optimized.modules()]


def test_fold_batch_norm_refuses_an_unknown_pattern():
    module = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).eval()
    with pytest.raises(ValueError, match="no fold pattern"):
        fold_batch_norm(module)


@pytest.fixture(scope="module")
def tiny_step():
    from edge_sdk import InpaintPipeline
    from edge_sdk.deploy import DeployGraphs

    pipe = InpaintPipeline.from_preset("tiny")
    graphs = DeployGraphs.build(pipe.denoiser, pipe.vae, steps=4)
    return graphs.step, graphs.example_inputs()["step"]


def test_time_projection_fold_is_exact_and_removes_every_projection(tiny_step):
    step, inputs = tiny_step
    folded = copy.deepcopy(step)
    names = fold_time_projections(folded)
    assert len(names) == 15 and all(name.endswith("time_emb_proj") for name in names)
    assert not any(name.endswith("time_emb_proj") for name, _ in folded.named_modules())
    assert sum(isinstance(m, ResnetBlockWithTimeRow) for m in folded.modules()) == 15
    with torch.no_grad():
        for index in range(4):
            args = inputs[:3] + (torch.tensor([index]),)
            assert relative_error(folded(*args), step(*args)) < 1e-6


def test_int8_position_tables_are_stored_as_int8_and_stay_close(tiny_step):
    step, inputs = tiny_step
    quantized = copy.deepcopy(step)
    layers = position_tables_as_int8(quantized)
    assert len(layers) == 15
    tables = [b for name, b in quantized.named_buffers() if name.endswith("position_table.values")]
    assert len(tables) == 15 and all(t.dtype == torch.int8 for t in tables)
    assert not any(name.endswith("position_embedding") for name, _ in quantized.named_parameters())
    with torch.no_grad():
        error = relative_error(quantized(*inputs), step(*inputs))
    assert 0 < error < 1e-2
