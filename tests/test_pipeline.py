"""The reference pipeline: sizes, paste-back, cropping, determinism and mask handling."""
import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from edge_sdk import InpaintPipeline
from edge_sdk.imaging import load_mask
from edge_sdk.inpainting import paste_hole
from edge_sdk.regions import plan_crops
from edge_sdk.samples import sample_pairs

STEPS = 2  # enough to exercise the loop; numbers are checked against goldens in test_model.py


@pytest.fixture(scope="module")
def pipe():
    return InpaintPipeline.from_preset("tiny")


def sample(name):
    for image, mask in sample_pairs():
        if image.stem == name:
            return image, mask
    raise KeyError(name)


def outside_blur_reach(hole, reach=12):
    return ~ndimage.binary_dilation(hole, iterations=reach)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "cat", "deep_field"])
def test_output_keeps_size_and_pixels_outside_the_hole(pipe, name):
    image_path, mask_path = sample(name)
    original = Image.open(image_path).convert("RGB")
    hole = load_mask(mask_path, original.size)
    result = pipe(image_path, mask_path, steps=STEPS, progress=False)
    assert result.size == original.size and result.mode == "RGB"
    before, after = np.asarray(original), np.asarray(result)
    keep = outside_blur_reach(hole)
    assert np.array_equal(before[keep], after[keep])
    assert np.abs(before[hole].astype(int) - after[hole]).mean() > 5  # the hole really was repainted


def test_same_seed_is_deterministic_and_seeds_differ(pipe):
    image, mask = sample("camera")
    first = np.asarray(pipe(image, mask, steps=STEPS, seed=3, progress=False))
    again = np.asarray(pipe(image, mask, steps=STEPS, seed=3, progress=False))
    other = np.asarray(pipe(image, mask, steps=STEPS, seed=4, progress=False))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_strength_below_one_is_available_for_parity(pipe):
    image, mask = sample("camera")
    full = np.asarray(pipe(image, mask, steps=4, progress=False), dtype=float)
    parity = np.asarray(pipe(image, mask, steps=4, strength=0.99, progress=False), dtype=float)
    assert np.abs(full - parity).mean() > 0.5


def test_empty_mask_returns_input_without_running_the_model(pipe, monkeypatch):
    image, _ = sample("astronaut")
    calls = []
    monkeypatch.setattr(pipe, "generate_square", lambda *a, **k: calls.append(1))
    empty = np.zeros((512, 512), dtype=np.uint8)
    result = pipe(image, empty)
    assert calls == []
    assert np.array_equal(np.asarray(result), np.asarray(Image.open(image).convert("RGB")))


def test_far_apart_holes_get_a_crop_each_and_near_ones_share():
    hole = np.zeros((2000, 3000), dtype=bool)
    hole[100:150, 100:160] = True
    hole[1800:1900, 2800:2900] = True
    crops = plan_crops(hole, 512)
    assert len(crops) == 2
    for crop, box in crops:
        assert crop.width == crop.height == 512
        assert crop.left <= box.left and box.right <= crop.right and crop.top <= box.top and box.bottom <= crop.bottom
    hole[200:240, 300:340] = True  # close to the first hole: its crop overlaps
    assert len(plan_crops(hole, 512)) == 2
    assert sorted(c.width for c, _ in plan_crops(hole, 512)) == [512, 512]


def test_large_image_is_inpainted_through_a_crop(pipe):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, size=(700, 1400, 3), dtype=np.uint8)
    hole = np.zeros((700, 1400), dtype=bool)
    hole[300:360, 1000:1080] = True
    result = np.asarray(pipe(pixels, hole, steps=STEPS, progress=False))
    assert result.shape == pixels.shape
    keep = outside_blur_reach(hole)
    assert np.array_equal(result[keep], pixels[keep])


def test_paste_is_the_official_blend():
    rng = np.random.default_rng(1)
    original = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    generated = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    hole = np.zeros((64, 64), dtype=bool)
    hole[20:40, 20:40] = True
    out = np.asarray(paste_hole(original, generated, hole))
    assert np.array_equal(out[30, 30], np.asarray(generated)[30, 30])  # deep inside: the generated pixel
    assert np.array_equal(out[2, 2], np.asarray(original)[2, 2])  # far outside: the original


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16"])
def test_mask_modes_and_threshold(mode):
    values = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    if mode == "I;16":
        mask = Image.fromarray(values.astype(np.uint16) * 257)
    elif mode == "RGBA":
        mask = Image.fromarray(np.dstack([values] * 3 + [np.full_like(values, 255)]), "RGBA")
    else:
        mask = Image.fromarray(values).convert(mode)
    assert load_mask(mask, (4, 1)).tolist() == [[False, False, True, True]]


def test_rgba_and_grey_images_are_accepted(pipe):
    rgba = Image.new("RGBA", (512, 512), (10, 200, 30, 255))
    hole = np.zeros((512, 512), dtype=bool)
    hole[200:260, 200:260] = True
    assert pipe(rgba, hole, steps=1, progress=False).mode == "RGBA"  # the input's mode (issue #20)
    grey16 = Image.fromarray(np.full((512, 512), 40000, dtype=np.uint16))
    result = pipe(grey16, hole, steps=1, progress=False)
    assert result.size == (512, 512) and result.mode == "L"
