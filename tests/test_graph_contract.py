"""The graph contract: names and signatures every exporter, manifest and runner takes from one module, and the
one host loop over three graphs with those signatures."""
from types import SimpleNamespace

from edge_sdk.deploy.graph_contract import GRAPH_NAMES, graph_signatures, io_names


def fake_graphs(starts_from_noise: bool, decode_latent_size: int = 8):
    return SimpleNamespace(
        config=SimpleNamespace(image_size=64, sample_size=8),
        encode=SimpleNamespace(latent_channels=4),
        schedule=SimpleNamespace(starts_from_noise=starts_from_noise),
        decode_latent_size=decode_latent_size,
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


def test_a_tiled_decode_graph_takes_a_latent_tile_and_gives_its_pixels():
    signatures = graph_signatures(fake_graphs(True, decode_latent_size=6))
    assert signatures["decode"] == {"inputs": [spec("latents", (1, 4, 6, 6))], "outputs": [spec("image", (1, 3, 48, 48))]}
    assert signatures["encode"]["inputs"][0] == spec("image", (1, 3, 64, 64))  # the other graphs keep the whole image


def test_encode_returns_the_clean_latents_below_full_strength():
    assert io_names(fake_graphs(False), "encode") == (["image", "mask"], ["masked_latents", "mask_latent", "clean_latents"])
    assert graph_signatures(fake_graphs(False))["encode"]["outputs"][-1] == spec("clean_latents", (1, 4, 8, 8))
    assert list(graph_signatures(fake_graphs(True))) == list(GRAPH_NAMES)


def test_the_host_loop_calls_three_graphs_in_contract_order():
    """The one loop `DeployGraphs.run` and a loaded bundle both use: encode, start latent, step i = 0..n−1, decode."""
    import torch

    from edge_sdk.deploy.host_loop import StartOfLoop, run_loop

    calls = []

    def encode(image, mask):
        calls.append("encode")
        return image * 2, mask, image + 1  # masked latents, mask latent, clean latents

    def step(x, masked_latents, mask_latent, index):
        assert index.dtype == torch.int64 and index.shape == (1,)
        calls.append(int(index))
        return x + masked_latents * mask_latent

    def decode(x):
        calls.append("decode")
        return -x

    image, mask, noise = torch.full((1, 1), 3.0), torch.ones(1, 1), torch.full((1, 1), 5.0)
    schedule = StartOfLoop(timesteps=(700, 500, 300), starts_from_noise=False, start_signal=0.5, start_noise=0.25)
    result = run_loop(encode, step, decode, schedule, image, mask, noise)
    assert calls == ["encode", 0, 1, 2, "decode"]
    # start 0.5·4 + 0.25·5 = 3.25, then three steps of +6
    assert result.item() == -(3.25 + 3 * 6)  # exact in float32
    from_noise = StartOfLoop(timesteps=(900,), starts_from_noise=True, start_signal=0.0, start_noise=1.0)
    assert run_loop(encode, step, decode, from_noise, image, mask, noise).item() == -(5 + 6)
