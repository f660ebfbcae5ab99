"""The contract between the deploy graphs, the bundles and every runtime: the three graphs' names and
their inputs and outputs, in call order (docs/architecture.md, "The deploy graphs").

The one place these names are written: exporters name their graph files' tensors from here, the manifest
records them, and runners and bindings feed the graphs by them. No torch import: reading a bundle
needs only the names.
"""
from __future__ import annotations

GRAPH_NAMES = ("encode", "step", "decode")

# Graph → (input names, output names), in call order.
GRAPH_SIGNATURES = {
    "encode": (("image", "mask"), ("masked_latents", "mask_latent")),
    "step": (("x", "masked_latents", "mask_latent", "step_index"), ("next_x",)),
    "decode": (("latents",), ("image",)),
}
CLEAN_LATENTS = "clean_latents"  # the encode graph's third output when strength < 1
STEP_INDEX_DTYPE = "int64"  # every other tensor is float32


def io_names(graphs, name: str) -> tuple[list[str], list[str]]:
    """Input and output tensor names of graph `name` for these deploy graphs (encode gains clean_latents
    when strength < 1)."""
    inputs, outputs = GRAPH_SIGNATURES[name]
    outputs = list(outputs)
    if name == "encode" and not graphs.schedule.starts_from_noise:
        outputs.append(CLEAN_LATENTS)
    return list(inputs), outputs


def graph_signatures(graphs) -> dict[str, dict]:
    """Input and output names, shapes and dtypes of the three graphs, as every backend's files take them."""
    side, latent = graphs.config.image_size, graphs.config.sample_size
    latents = (1, graphs.encode.latent_channels, latent, latent)
    tile = graphs.decode_latent_size  # the decode graph's: one tile's when tiled
    shapes = {
        "image": (1, 3, side, side),
        "mask": (1, 1, side, side),
        "masked_latents": latents,
        "mask_latent": (1, 1, latent, latent),
        CLEAN_LATENTS: latents,
        "x": latents,
        "step_index": (1,),
        "next_x": latents,
        "latents": (1, graphs.encode.latent_channels, tile, tile),
    }
    decoded = (1, 3, tile * side // latent, tile * side // latent)

    def spec(tensor: str, graph: str) -> dict:
        dtype = STEP_INDEX_DTYPE if tensor == "step_index" else "float32"
        shape = decoded if (graph, tensor) == ("decode", "image") else shapes[tensor]
        return {"name": tensor, "shape": [int(s) for s in shape], "dtype": dtype}

    signatures = {}
    for name in GRAPH_NAMES:
        inputs, outputs = io_names(graphs, name)
        signatures[name] = {"inputs": [spec(t, name) for t in inputs], "outputs": [spec(t, name) for t in outputs]}
    return signatures
