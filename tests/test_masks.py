"""Tests for the seeded, hole-ratio-binned mask generator."""

import numpy as np
import pytest
from PIL import Image

from edge_sdk import mask_generator as masks

SIZES = [(512, 512), (384, 256)]


def mean_stroke_width(mask: np.ndarray) -> float:
    """Width estimate for long strokes: area / (perimeter / 2).

    The perimeter is counted as hole pixels with a keep pixel among their four
    neighbours, a rough but skeleton-free proxy.
    """
    hole = mask == 255
    padded = np.pad(hole, 1, constant_values=False)
    interior = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    boundary = np.count_nonzero(hole & ~interior)
    return 2 * np.count_nonzero(hole) / boundary


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", masks.MASK_KINDS)
def test_every_kind_lands_in_every_bin(size, kind):
    width, height = size
    for low, high in masks.HOLE_RATIO_BINS:
        mask = masks.generate_mask(size, kind, (low, high), seed=7)
        assert mask.shape == (height, width)
        assert mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) == {0, 255}
        assert low <= masks.hole_ratio(mask) < high, (kind, (low, high))


def test_same_seed_gives_identical_masks():
    for kind in masks.MASK_KINDS:
        first = masks.generate_mask((256, 192), kind, (0.2, 0.3), seed=42)
        again = masks.generate_mask((256, 192), kind, (0.2, 0.3), seed=42)
        np.testing.assert_array_equal(first, again)


def test_different_seeds_give_different_masks():
    for kind in masks.MASK_KINDS:
        one = masks.generate_mask((256, 192), kind, (0.2, 0.3), seed=1)
        two = masks.generate_mask((256, 192), kind, (0.2, 0.3), seed=2)
        assert not np.array_equal(one, two), kind


def test_no_bin_picks_a_standard_bin_from_the_seed():
    mask = masks.generate_mask(256, "blob", None, seed=3)
    assert mask.shape == (256, 256)
    assert any(low <= masks.hole_ratio(mask) < high for low, high in masks.HOLE_RATIO_BINS)
    np.testing.assert_array_equal(mask, masks.generate_mask(256, "blob", None, seed=3))


def test_thin_strokes_are_narrower_than_medium_and_thick():
    widths = {
        kind: np.mean(
            [
                mean_stroke_width(masks.generate_mask(512, kind, (0.2, 0.3), seed=seed))
                for seed in range(3)
            ]
        )
        for kind in ("thin", "medium", "thick")
    }
    assert widths["thin"] < widths["medium"] < widths["thick"], widths


def test_generate_masks_cycles_every_kind_and_bin_reproducibly():
    kinds = ("thin", "box")
    bins = ((0.1, 0.2), (0.3, 0.4))
    specs = masks.generate_masks(5, (128, 96), seed=5, kinds=kinds, bins=bins)
    assert [(spec.kind, spec.ratio_bin) for spec in specs] == [
        ("thin", (0.1, 0.2)),
        ("box", (0.1, 0.2)),
        ("thin", (0.3, 0.4)),
        ("box", (0.3, 0.4)),
        ("thin", (0.1, 0.2)),
    ]
    for spec in specs:
        low, high = spec.ratio_bin
        assert low <= spec.hole_ratio < high
        # The recorded seed regenerates the mask on its own.
        np.testing.assert_array_equal(
            spec.mask, masks.generate_mask((128, 96), spec.kind, spec.ratio_bin, spec.seed)
        )
    again = masks.generate_masks(5, (128, 96), seed=5, kinds=kinds, bins=bins)
    for spec, repeat in zip(specs, again):
        np.testing.assert_array_equal(spec.mask, repeat.mask)
    assert len({spec.filename for spec in specs}) == len(specs)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: masks.generate_mask(64, "spiral", (0.1, 0.2), 0), "unknown mask kind"),
        (lambda: masks.generate_mask(64, "thin", (0.95, 1.0), 0), "impossible"),
        (lambda: masks.generate_mask(64, "thin", (0.3, 0.2), 0), "impossible"),
        (lambda: masks.generate_mask(64, "thin", (0.1,), 0), "pair"),
        (lambda: masks.generate_mask(64, "thin", (0.3, 0.30001), 0), "too narrow"),
        (lambda: masks.generate_mask((0, 64), "thin", (0.1, 0.2), 0), "positive"),
        (lambda: masks.generate_mask((64, -1), "thin", (0.1, 0.2), 0), "positive"),
        (lambda: masks.generate_mask((64, 64, 3), "thin", (0.1, 0.2), 0), "pair"),
        (lambda: masks.generate_mask(64, "thin", (0.1, 0.2), -1), "seed"),
        (lambda: masks.generate_masks(-1, 64, 0), "count"),
        (lambda: masks.generate_masks(2, 64, 0, kinds=()), "at least one"),
        (lambda: masks.generate_masks(2, 64, 0, kinds=("thin", "dots")), "unknown mask kind"),
        (lambda: masks.generate_masks(2, 64, 0, bins=((0.1, 0.2), (0.9, 1.0))), "impossible"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unreachable_bin_fails_with_a_value_error():
    # On 100x100 a thick stroke is at least 7 px wide, so even its shortest form
    # covers more than the 29 pixels this bin allows.
    with pytest.raises(ValueError, match="could not draw"):
        masks.generate_mask(100, "thick", (0.001, 0.003), seed=0)


def test_hole_ratio_and_image_helpers():
    mask = np.zeros((4, 5), dtype=np.uint8)
    mask[:2, :] = 255
    assert masks.hole_ratio(mask) == pytest.approx(0.5)
    image = masks.mask_to_image(mask)
    assert image.mode == "L" and image.size == (5, 4)
    assert masks.hole_ratio(image) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="uint8"):
        masks.mask_to_image(mask.astype(np.float32))


def test_write_mask_set_writes_pngs_and_no_temp_files(tmp_path):
    out_dir = tmp_path / "masks"
    paths = masks.write_mask_set(out_dir, count=3, size=(96, 64), seed=9)
    assert len(paths) == 3
    assert sorted(out_dir.iterdir()) == sorted(paths)  # nothing else, no temp files
    specs = masks.generate_masks(3, (96, 64), seed=9)
    for path, spec in zip(paths, specs):
        assert path.name == spec.filename
        with Image.open(path) as image:
            assert image.mode == "L"
            np.testing.assert_array_equal(np.asarray(image), spec.mask)


def test_failed_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    mask = masks.generate_mask(32, "box", (0.1, 0.2), seed=0)
    with pytest.raises(OSError, match="disk full"):
        masks.save_mask(mask, tmp_path / "mask.png")
    assert list(tmp_path.iterdir()) == []
