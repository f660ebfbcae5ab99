"""DeployGraphs against the official DDIM + CFG golden trajectory, and against the reference pipeline pieces."""
import pytest
import torch
import torch.nn.functional as F

from edge_sdk.deploy import DeployGraphs
from edge_sdk.deploy.precision import set_step_precision
from edge_sdk.sampling import make_scheduler, retained_timesteps, sample_latents
from edge_sdk.vae import build_vae, decode_to_unit, encode_mean


def rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def golden(reference_dir):
    return torch.load(reference_dir / "tiny" / "ddim_cfg_golden.pt", weights_only=True)


@pytest.fixture(scope="module")
def vae():
    return build_vae("tiny")


@pytest.fixture(scope="module")
def golden_graphs(tiny_reference_denoiser, vae, golden):
    options = dict(steps=golden["num_steps"], strength=golden["strength"], guidance_scale=golden["guidance_scale"])
    return {
        optimize: DeployGraphs.build(tiny_reference_denoiser, vae, optimize=optimize, **options)
        for optimize in (False, True)
    }


def test_baked_schedule_is_the_golden_one(golden_graphs, golden):
    graphs = golden_graphs[True]
    assert graphs.timesteps == golden["timesteps"].tolist()
    start = graphs.start_latent(golden["noise"], golden["clean_latents"])
    assert rel(start, golden["trajectory"][0]) < 1e-7


def test_optimized_step_loop_reproduces_the_golden_trajectory(golden_graphs, golden):
    """The app-side loop from trajectory[0]; at every step the unoptimized graph is fed the same x."""
    trajectory, masked, mask = golden["trajectory"], golden["masked_latents"], golden["mask_latent"]
    optimized, unoptimized = golden_graphs[True].step, golden_graphs[False].step
    x = trajectory[0]
    per_step = []
    with torch.no_grad():
        for i in range(len(golden["timesteps"])):
            index = torch.tensor([i])
            x_next = optimized(x, masked, mask, index)
            per_step.append(rel(x_next, unoptimized(x, masked, mask, index)))
            x = x_next
            assert rel(x, trajectory[i + 1]) < 1e-4, f"step {i}"
    assert rel(x, trajectory[-1]) < 1e-4
    assert max(per_step) < 1e-5, per_step


def test_step_is_one_ddim_cfg_step(golden_graphs, golden, tiny_reference_denoiser):
    """The unoptimized step graph equals diffusers' DDIMScheduler.step on the guided ε of the denoiser."""
    from edge_sdk.sampling import guided_noise

    scheduler = make_scheduler()
    timesteps = retained_timesteps(scheduler, 20, 0.99)
    x, masked, mask = golden["trajectory"][3], golden["masked_latents"], golden["mask_latent"]
    with torch.no_grad():
        eps = guided_noise(tiny_reference_denoiser, x, mask, masked, timesteps[3], 2.5)
        expected = scheduler.step(eps, timesteps[3], x, eta=0.0).prev_sample
        actual = golden_graphs[False].step(x, masked, mask, torch.tensor([3]))
    assert rel(actual, expected) < 1e-6


def test_run_matches_the_reference_pipeline_pieces(tiny_reference_denoiser, vae):
    """encode → start → loop → decode against encode_mean, sample_latents and decode_to_unit (2 steps run)."""
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 512, 512, generator=gen) * 2 - 1
    mask = torch.zeros(1, 1, 512, 512)
    mask[..., 100:300, 180:420] = 1
    noise = torch.randn(1, 4, 64, 64, generator=gen)
    graphs = DeployGraphs.build(tiny_reference_denoiser, vae, steps=4, strength=0.6, optimize=True)
    assert len(graphs.timesteps) == 2

    with torch.no_grad():
        masked_latents, mask_latent, clean = graphs.encode(image, mask)
        assert torch.equal(masked_latents, encode_mean(vae, image * (1 - mask)))
        assert torch.equal(clean, encode_mean(vae, image))
        assert torch.equal(mask_latent, mask[..., ::8, ::8])  # the top-left pixel of every 8×8 cell
        assert torch.equal(mask_latent, F.interpolate(mask, size=(64, 64), mode="nearest"))
        latents = sample_latents(
            tiny_reference_denoiser, masked_latents=masked_latents, mask_latent=mask_latent, noise=noise,
            clean_latents=clean, steps=4, strength=0.6, guidance_scale=2.5,
        )
        expected = decode_to_unit(vae, latents)
        # The decode graph's upsamplers are phase convolutions: the same sums, in another order.
        assert rel(graphs.decode(latents), expected) < 1e-4  # fp32 rounding through the whole decoder
        # Unoptimized (the bench's eager reference) decodes with the VAE's own modules: bit for bit.
        reference = DeployGraphs.build(tiny_reference_denoiser, vae, steps=4, strength=0.6, optimize=False)
        assert torch.equal(reference.decode(latents), expected)
        result = graphs.run(image, mask, noise)
    assert result.shape == (1, 3, 512, 512) and 0 <= result.min() and result.max() <= 1
    assert rel(result, expected) < 1e-4  # the same phase-convolution decoder as above


def test_graph_interface(tiny_reference_denoiser, vae):
    graphs = DeployGraphs.build(tiny_reference_denoiser, vae, steps=20, strength=1.0, optimize=True)
    assert graphs.timesteps == retained_timesteps(make_scheduler(), 20, 1.0).tolist()
    inputs = graphs.example_inputs()
    assert [tuple(t.shape) for t in inputs["encode"]] == [(1, 3, 512, 512), (1, 1, 512, 512)]
    assert [tuple(t.shape) for t in inputs["step"]] == [(1, 4, 64, 64), (1, 4, 64, 64), (1, 1, 64, 64), (1,)]
    assert inputs["step"][3].dtype == torch.int64
    noise = torch.randn(1, 4, 64, 64)
    assert graphs.start_latent(noise) is noise  # strength 1 starts from the noise itself
    meta = graphs.metadata()
    assert meta["encode_outputs"] == ["masked_latents", "mask_latent"] and len(meta["sqrt_alpha"]) == 20
    with torch.no_grad():
        x = graphs.step(*inputs["step"])
    assert x.shape == (1, 4, 64, 64) and x.dtype == torch.float32
    with pytest.raises(ValueError, match="clean_latents"):
        DeployGraphs.build(tiny_reference_denoiser, vae, steps=20, strength=0.5).start_latent(noise)


def test_bf16_step_with_fp32_lambda_islands(golden_graphs, golden):
    """bf16 weights, fp32 λ islands and fp32 DDIM: close to fp32, and the folded constants stay fp32."""
    import copy

    step = set_step_precision(copy.deepcopy(golden_graphs[True].step), torch.bfloat16, fp32_lambda=True)
    layers = [m for m in step.modules() if hasattr(m, "fp32_lambda")]
    assert layers and all(m.fp32_lambda for m in layers)
    assert all(m.position_embedding.dtype == torch.float32 for m in layers if hasattr(m, "position_embedding"))
    assert step.compute_dtype == torch.bfloat16 and step.sqrt_alpha.dtype == torch.float32
    x, masked, mask = golden["trajectory"][0], golden["masked_latents"], golden["mask_latent"]
    with torch.no_grad():
        low = step(x, masked, mask, torch.tensor([0]))
        full = golden_graphs[True].step(x, masked, mask, torch.tensor([0]))
    assert low.dtype == torch.float32
    assert 0 < rel(low, full) < 2e-2
