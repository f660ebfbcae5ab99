"""The pre-filled hole (edge_sdk.hole_fill): exact outside the hole, a fill that continues the surroundings,
a config option that round-trips, and an encode graph that exports it to the bundle backends."""
import dataclasses

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import edge_sdk
from edge_sdk.checkpoint import build_denoiser
from edge_sdk.config import MODEL_CONFIGS, MoebiusConfig
from edge_sdk.deploy import DeployGraphs
from edge_sdk.errors import ConfigError
from edge_sdk.hole_fill import masked_image, pyramid_fill, start_latents
from edge_sdk.inpainting import image_to_tensor
from edge_sdk.pipeline import InpaintPipeline
from edge_sdk.samples import sample_pairs
from edge_sdk.vae import encode_mean

from backend_bundles import STEPS, psnr

PYRAMID_TINY = dataclasses.replace(MODEL_CONFIGS["tiny"], hole_fill="pyramid")


def box_hole(side=64, top=20, left=12, height=24, width=30):
    mask = torch.zeros(1, 1, side, side)
    mask[..., top : top + height, left : left + width] = 1
    return mask


def test_known_pixels_pass_through_and_a_flat_surrounding_fills_flat():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask = box_hole().expand(2, 1, 64, 64)
    filled = pyramid_fill(image, mask)
    known = (mask == 0).expand_as(image)
    assert torch.equal(filled[known], image[known])
    assert torch.equal(masked_image(image, mask, "zero"), image * (1 - mask))
    colour = torch.tensor([0.3, -0.5, 0.8]).reshape(1, 3, 1, 1)
    flat = pyramid_fill(colour.expand(1, 3, 64, 64), box_hole())
    assert torch.allclose(flat, colour.expand_as(flat), atol=1e-5)
    assert torch.isfinite(pyramid_fill(image[:1], torch.ones(1, 1, 64, 64))).all()  # nothing known: no 0/0


def test_each_side_of_the_hole_takes_the_colour_next_to_it():
    image = torch.full((1, 1, 64, 64), -1.0)
    image[..., 32:] = 1.0  # dark left half, bright right half
    filled = pyramid_fill(image, box_hole(top=16, left=8, height=32, width=48))
    row = filled[0, 0, 32]
    assert row[10] < -0.8 and row[53] > 0.8  # near each edge: that edge's colour
    assert bool((row[8:56].diff() >= -1e-6).all())  # and a monotone blend in between


def test_on_the_bundled_photos_the_fill_beats_a_mean_colour_fill_by_more_than_2_db():
    gains = []
    for image_path, _ in sample_pairs():
        photo = Image.open(image_path).convert("RGB").resize((256, 256), Image.LANCZOS)
        truth = np.asarray(photo)
        for top, left in [(40, 40), (40, 150), (150, 40), (150, 150), (90, 90)]:
            mask = box_hole(256, top, left, 64, 64)
            hole = mask[0, 0].bool().numpy()
            filled = pyramid_fill(image_to_tensor(photo), mask)
            filled = ((filled[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
            mean_fill = truth.copy()
            mean_fill[hole] = truth[~hole].mean(axis=0).round()
            gains.append(psnr(filled[hole], truth[hole]) - psnr(mean_fill[hole], truth[hole]))
    assert np.mean(gains) > 2, gains


def test_hole_fill_round_trips_through_yaml_and_stays_out_of_official_configs(tmp_path):
    assert "hole_fill" not in MODEL_CONFIGS["moebius-0.2b"].to_dict()["data"]
    assert MODEL_CONFIGS["nano"].to_dict()["data"]["hole_fill"] == "pyramid"
    path = tmp_path / "pyramid.yaml"
    path.write_text(yaml.safe_dump(PYRAMID_TINY.to_dict()))
    assert MoebiusConfig.from_yaml(path) == PYRAMID_TINY
    with pytest.raises(ConfigError, match="hole_fill 'telea'"):
        dataclasses.replace(PYRAMID_TINY, hole_fill="telea")


@pytest.fixture(scope="module")
def pyramid_pipe():
    return InpaintPipeline(build_denoiser(PYRAMID_TINY), "tiny", name="tiny-pyramid", random_weights=True)


# Half the steps from the filled hole, as `nano` runs by default: the encode graph then returns start latents too.
STRENGTH = 0.5


@pytest.fixture(scope="module")
def pyramid_graphs(pyramid_pipe):
    return DeployGraphs.build(pyramid_pipe.denoiser, pyramid_pipe.vae, steps=2 * STEPS, strength=STRENGTH)


def encode_inputs():
    """A bright image (so a filled and a zeroed hole differ) with a big box hole."""
    g = torch.Generator().manual_seed(1)
    return 0.2 + 0.6 * torch.rand(1, 3, 512, 512, generator=g), box_hole(512, 100, 150, 200, 180)


def assert_encodes_the_filled_hole(outputs, vae, tolerance):
    """Masked latents of the filled hole (not of a zeroed one), and the run starts from them in the hole."""
    masked_latents, mask_latent, start = outputs
    pixels, hole = encode_inputs()
    filled, zeroed = (encode_mean(vae, masked_image(pixels, hole, fill)) for fill in ("pyramid", "zero"))
    assert float((masked_latents - filled).norm() / filled.norm()) < tolerance
    assert float((masked_latents - zeroed).norm() / zeroed.norm()) > 0.05
    image_latents = encode_mean(vae, pixels)
    assert float((start - start_latents(image_latents, filled, mask_latent, "pyramid")).norm() / start.norm()) < tolerance
    inside = mask_latent.bool().expand_as(start)
    assert 0.05 < mask_latent.mean() < 0.5 and torch.allclose(start[inside], masked_latents[inside])


def test_onnx_bundle_fills_the_hole_inside_its_encode_graph(pyramid_pipe, pyramid_graphs, tmp_path):
    from edge_sdk.bundle.export import export_bundle

    export_bundle(pyramid_graphs, "onnx", "fp32", tmp_path / "bundle", model={"name": "tiny-pyramid", "random_weights": True})
    bundle = edge_sdk.load(tmp_path / "bundle")
    image, mask = sample_pairs()[0]
    reference = pyramid_pipe(image, mask, steps=2 * STEPS, strength=STRENGTH, seed=0, progress=False)
    assert psnr(bundle.inpaint(image, mask, seed=0), reference) >= 60
    assert_encodes_the_filled_hole(bundle.graphs.encode(*encode_inputs()), pyramid_pipe.vae, 1e-4)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_executorch_encode_graph_fills_the_hole(pyramid_pipe, pyramid_graphs, precision, tmp_path):
    """fp32 bundles run the encode graph in fp32, int8 bundles in fp16 (the whole-bundle path is
    tests/test_backends_executorch.py; only the encode graph differs here)."""
    from executorch.runtime import Runtime

    from edge_sdk.backends.base import ProgramCache
    from edge_sdk.backends.executorch.export import ROUND_TRIP_GRAPHS, lower_to_file

    programs = ProgramCache(pyramid_graphs)
    program = programs.program("encode") if precision == "fp32" else programs.half_program("encode")
    summary = lower_to_file(program, "xnnpack", tmp_path / "encode.pte", layout_round_trips="encode" in ROUND_TRIP_GRAPHS)
    assert summary["delegated_ops"] > 0
    method = Runtime.get().load_program(tmp_path / "encode.pte").load_method("forward")
    outputs = method.execute([x.contiguous() for x in encode_inputs()])
    assert_encodes_the_filled_hole(outputs, pyramid_pipe.vae, 1e-3 if precision == "fp32" else 2e-2)


def test_coreml_encode_graph_converts_the_fill(pyramid_graphs):
    """Core ML cannot run on Linux: the fill's pooling and resizing must at least convert to ML program ops."""
    from edge_sdk.backends.base import ProgramCache
    from edge_sdk.backends.coreml.export import convert, program_operations

    model = convert(ProgramCache(pyramid_graphs).program("encode"), ["image", "mask"], ["masked_latents", "mask_latent", "clean_latents"])
    operations = program_operations(model.get_spec())
    levels = 9  # 512 → 1 in halvings: one colour and one share pooling per level
    assert operations["avg_pool"] >= 2 * levels and operations["upsample_bilinear"] >= levels, operations
    assert [o.name for o in model.get_spec().description.output] == ["masked_latents", "mask_latent", "clean_latents"]
