"""Output parametrisations (edge_sdk.prediction): v-prediction and the known region taken from the masked latents."""
import dataclasses

import pytest
import torch
import yaml

from edge_sdk.checkpoint import build_denoiser
from edge_sdk.config import MODEL_CONFIGS, MoebiusConfig
from edge_sdk.deploy.schedule import ddim_schedule
from edge_sdk.deploy.step import build_step
from edge_sdk.errors import ConfigError
from edge_sdk.prediction import alphas_cumprod, epsilon_at_timesteps, task_loss_weight
from edge_sdk.sampling import sample_latents
from edge_sdk.train.losses import predicted_clean_latents, task_loss

V_ONLY = dataclasses.replace(MODEL_CONFIGS["tiny"], image_size=128, prediction_type="v_prediction")
V_AND_KNOWN = dataclasses.replace(V_ONLY, keep_known_latents=True)


def inputs(seed=0, batch=3):
    g = torch.Generator().manual_seed(seed)
    clean = torch.randn(batch, 4, 16, 16, generator=g)
    noise = torch.randn(batch, 4, 16, 16, generator=g)
    hole = (torch.rand(batch, 1, 16, 16, generator=g) > 0.6).float()
    t = torch.tensor([999, 500, 1])[:batch]
    return clean, noise, hole, t


def test_v_output_becomes_the_epsilon_it_encodes():
    clean, noise, hole, t = inputs()
    a = alphas_cumprod()[t].reshape(-1, 1, 1, 1)
    noisy = a.sqrt() * clean + (1 - a).sqrt() * noise
    v = a.sqrt() * noise - (1 - a).sqrt() * clean
    sample = torch.cat([noisy, hole, clean * (1 - hole)], 1)
    eps = epsilon_at_timesteps(v, sample, t, V_ONLY)
    assert torch.allclose(eps, noise, atol=1e-4)
    # The weight turns the ε MSE into the v MSE, the regression the network really does.
    wrong_v = v + 0.1 * torch.randn_like(v)
    eps_wrong = epsilon_at_timesteps(wrong_v, sample, t, V_ONLY)
    v_mse = (wrong_v - v).pow(2).mean()
    weighted = task_loss(eps_wrong, noise, task_loss_weight(alphas_cumprod()[t], V_ONLY))
    assert abs(float(weighted) - float(v_mse)) / float(v_mse) < 1e-3
    assert torch.equal(task_loss_weight(alphas_cumprod()[t], MODEL_CONFIGS["tiny"]), torch.ones(3))


def test_known_region_x0_is_the_masked_latent_and_the_hole_is_the_network_s():
    clean, noise, hole, t = inputs(1)
    a = alphas_cumprod()[t]
    noisy = a.sqrt().reshape(-1, 1, 1, 1) * clean + (1 - a).sqrt().reshape(-1, 1, 1, 1) * noise
    masked = clean * (1 - hole)
    sample = torch.cat([noisy, hole, masked], 1)
    output = torch.randn_like(noise)
    x0 = predicted_clean_latents(noisy, epsilon_at_timesteps(output, sample, t, V_AND_KNOWN), a)
    x0_v_only = predicted_clean_latents(noisy, epsilon_at_timesteps(output, sample, t, V_ONLY), a)
    known = (1 - hole).bool().expand_as(x0)
    assert torch.allclose(x0[known], masked[known], atol=1e-3)
    assert torch.allclose(x0[~known], x0_v_only[~known], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def v_model():
    return build_denoiser(V_AND_KNOWN)


def test_step_graph_runs_the_same_conversion_as_the_eager_sampler(v_model):
    _, noise, hole, _ = inputs(2, batch=1)
    masked = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(3)) * (1 - hole)
    reference = sample_latents(v_model, masked_latents=masked, mask_latent=hole, noise=noise, steps=4, guidance_scale=2.5)
    assert torch.allclose(reference * (1 - hole), masked, atol=1e-5)  # the last x̂₀ is the sample
    for optimize in (False, True):
        step = build_step(v_model, ddim_schedule(4), 2.5, optimize=optimize)
        x = noise
        with torch.no_grad():
            for i in range(4):
                x = step(x, masked, hole, torch.tensor([i]))
        assert float((x - reference).norm() / reference.norm()) < 1e-5, optimize


def test_output_options_round_trip_and_stay_out_of_official_configs(tmp_path):
    assert "prediction_type" not in MODEL_CONFIGS["moebius-0.2b"].to_dict()["model"]
    document = V_AND_KNOWN.to_dict()
    assert document["model"]["prediction_type"] == "v_prediction" and document["model"]["keep_known_latents"] is True
    path = tmp_path / "nano.yaml"
    path.write_text(yaml.safe_dump(document))
    assert MoebiusConfig.from_yaml(path) == V_AND_KNOWN
    with pytest.raises(ConfigError, match="prediction_type 'x0'"):
        dataclasses.replace(V_ONLY, prediction_type="x0")
