"""The denoiser and the sampling loop against tensors made with the official implementation."""
import pytest
import torch

from conftest import relative_error
from edge_sdk import MoebiusConfig, MODEL_CONFIGS, load_denoiser, sample_latents
from edge_sdk.model import MoebiusDenoiser, cfg_input_ids


@pytest.mark.parametrize("suffix", ["", "_b"], ids=["t901", "t1"])
def test_forward_matches_official(tiny_reference_denoiser, reference_dir, suffix):
    golden = torch.load(reference_dir / "tiny" / "forward_golden.pt", weights_only=True)
    with torch.no_grad():
        eps = tiny_reference_denoiser(golden["noisy_latents" + suffix], golden["timesteps" + suffix], golden["input_ids"])
    assert eps.shape == (2, 4, 64, 64)
    assert relative_error(eps, golden["noise_pred" + suffix]) <= 1e-5


def test_ddim_cfg_loop_matches_official_trajectory(tiny_reference_denoiser, reference_dir):
    golden = torch.load(reference_dir / "tiny" / "ddim_cfg_golden.pt", weights_only=True)
    final, trajectory = sample_latents(
        tiny_reference_denoiser,
        masked_latents=golden["masked_latents"],
        mask_latent=golden["mask_latent"],
        noise=golden["noise"],
        clean_latents=golden["clean_latents"],
        steps=20,
        strength=0.99,
        guidance_scale=2.5,
        return_trajectory=True,
    )
    expected = golden["trajectory"]
    assert trajectory.shape == expected.shape  # start + 19 steps
    assert relative_error(final, expected[-1]) <= 1e-4
    for index in range(expected.shape[0]):
        assert relative_error(trajectory[index], expected[index]) <= 1e-3, f"latent {index}"


def test_strength_one_starts_from_noise_and_runs_all_steps(tiny_reference_denoiser, reference_dir):
    golden = torch.load(reference_dir / "tiny" / "ddim_cfg_golden.pt", weights_only=True)
    _, trajectory = sample_latents(
        tiny_reference_denoiser,
        masked_latents=golden["masked_latents"],
        mask_latent=golden["mask_latent"],
        noise=golden["noise"],
        steps=4,
        return_trajectory=True,
    )
    assert trajectory.shape[0] == 5
    assert torch.equal(trajectory[0], golden["noise"])


def test_timestep_forms_agree(tiny_reference_denoiser, reference_dir):
    golden = torch.load(reference_dir / "tiny" / "forward_golden.pt", weights_only=True)
    x, ids = golden["noisy_latents"], golden["input_ids"]
    with torch.no_grad():
        reference = tiny_reference_denoiser(x, torch.tensor([901]), ids)
        for timestep in (901, torch.tensor(901), torch.tensor([901, 901])):
            assert torch.equal(tiny_reference_denoiser(x, timestep, ids), reference)


def test_cfg_ids_put_unconditional_rows_first(reference_dir):
    golden = torch.load(reference_dir / "tiny" / "forward_golden.pt", weights_only=True)
    assert torch.equal(cfg_input_ids(1), golden["input_ids"])


def _manifest(reference_dir):
    rows = (reference_dir / "moebius-0.2b-state-dict.tsv").read_text().splitlines()[1:]
    return [(key, shape) for key, shape, _ in (row.split("\t") for row in rows)]


def test_full_preset_has_official_keys_shapes_and_parameter_count(reference_dir):
    with torch.device("meta"):
        model = MoebiusDenoiser(MODEL_CONFIGS["moebius-0.2b"])
    state = model.state_dict()
    manifest = _manifest(reference_dir)
    assert len(state) == len(manifest) == 1203
    assert [key for key, _ in manifest] == list(state)
    for key, shape in manifest:
        assert "x".join(map(str, state[key].shape)) == shape, key
    assert sum(p.numel() for p in model.parameters()) == 226_041_531


@pytest.mark.parametrize("name,yaml_path", [("moebius-0.2b", "moebius-0.2b.yaml"), ("tiny", "tiny/model_config.yaml")])
def test_official_yaml_reads_as_the_preset(reference_dir, name, yaml_path):
    assert MoebiusConfig.from_yaml(reference_dir / yaml_path) == MODEL_CONFIGS[name]


def test_config_round_trips_through_official_yaml_layout():
    config = MODEL_CONFIGS["tiny"]
    assert MoebiusConfig.from_dict(config.to_dict()) == config


def test_safetensors_and_bin_load_the_same_weights(tmp_path, reference_dir, tiny_reference_denoiser):
    from safetensors.torch import save_file

    state = torch.load(reference_dir / "tiny" / "diffusion_pytorch_model.bin", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "tiny.safetensors")
    loaded = load_denoiser(tmp_path / "tiny.safetensors", reference_dir / "tiny" / "model_config.yaml")
    for key, value in tiny_reference_denoiser.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert not loaded.training


def test_random_init_is_seeded_and_finite():
    first, second = load_denoiser(None, "tiny"), load_denoiser(None, "tiny")
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), key
    x = torch.randn(2, 9, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eps = first(x, torch.tensor([500]), cfg_input_ids(1))
    assert torch.isfinite(eps).all() and eps.std() > 0
