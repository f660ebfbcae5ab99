"""The graph contract: names and signatures every exporter, manifest and runner takes from one module."""
from types import SimpleNamespace

from edge_sdk.deploy.graph_contract import GRAPH_NAMES, graph_signatures, io_names


def fake_graphs(starts_from_noise: bool):
    return SimpleNamespace(
        config=SimpleNamespace(image_size=64, sample_size=8),
        encode=SimpleNamespace(latent_channels=4),
        schedule=SimpleNamespace(starts_from_noise=starts_from_noise),
    )


def spec(name, shape, dtype="float32"):
    return {"name": name, "shape": list(shape), "dtype": dtype}


def test_signatures_name_shape_and_type_every_tensor():
    latents, latent_mask = (1, 4, 8, 8), (1, 1, 8, 8)
    assert graph_signatures(fake_graphs(True)) == {
        "encode": {
            "inputs": [spec("image", (1, 3, 64, 64)), spec("mask", (1, 1, 64, 64))],
            "outputs": [spec("masked_latents", latents), spec("mask_latent", latent_mask)],
        },
        "step": {
            "inputs": [spec("x", latents), spec("masked_latents", latents), spec("mask_latent", latent_mask), spec("step_index", (1,), "int64")],
            "outputs": [spec("next_x", latents)],
        },
        "decode": {"inputs": [spec("latents", latents)], "outputs": [spec("image", (1, 3, 64, 64))]},
    }


def test_encode_returns_the_clean_latents_below_full_strength():
    assert io_names(fake_graphs(False), "encode") == (["image", "mask"], ["masked_latents", "mask_latent", "clean_latents"])
    assert graph_signatures(fake_graphs(False))["encode"]["outputs"][-1] == spec("clean_latents", (1, 4, 8, 8))
    assert list(graph_signatures(fake_graphs(True))) == list(GRAPH_NAMES)
