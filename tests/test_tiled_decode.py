"""Tiled decode: the tile arithmetic, a local decode that tiling reproduces exactly, the VAE's seam error
measured at export, and the export's refusals (the C++ runtime's match is in test_bindings_cpp.py)."""
import pytest
import torch

from edge_sdk.bundle.manifest import read_bundle
from edge_sdk.bundle.verify import verify_bundle
from edge_sdk.cli import main
from edge_sdk.deploy.tiled_decode import DecodeTiling

from bindings_bundles import DECODE_TILING, tiled_tiny_bundle


@pytest.mark.parametrize(
    "tile, overlap, origins",
    [(40, 16, [0, 24]), (28, 8, [0, 20, 36]), (33, 1, [0, 31]), (32, 1, [0, 31, 32]), (60, 59, [0, 1, 2, 3, 4])],
)
def test_tiles_step_by_tile_minus_overlap_and_the_last_is_flush_with_the_edge(tile, overlap, origins):
    assert DecodeTiling(tile, overlap).origins(64) == origins


def test_blend_weights_ramp_over_the_overlap_and_sum_to_one_there():
    tiling, scale = DecodeTiling(40, 16), 8
    first, second = (tiling.pixel_weights(origin, 64, scale) for origin in tiling.origins(64))
    ramp = 16 * scale
    assert torch.all(first[: 320 - ramp] == 1) and torch.all(second[ramp:] == 1)
    # In the overlap the outgoing and incoming ramps add up to one: the blend is a weighted mean.
    overlap_first, overlap_second = first[320 - ramp :], second[:ramp]
    assert torch.allclose(overlap_first + overlap_second, torch.ones(ramp), atol=1e-6)
    assert overlap_first[0] > overlap_first[-1] > 0 and overlap_second[-1] > overlap_second[0] > 0


@pytest.mark.parametrize("tile, overlap", [(40, 16), (28, 8), (20, 3)])
def test_a_decode_that_only_looks_at_its_own_latent_is_reproduced_exactly(tile, overlap):
    """Nearest 8× upsampling is local: every tile agrees with the whole decode where they overlap, so blending
    must give the whole decode back (up to the division's rounding)."""

    def upsample(latents):
        return torch.nn.functional.interpolate(latents[:, :3], scale_factor=8, mode="nearest")

    latents = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    tiled = DecodeTiling(tile, overlap).decode(upsample, latents)
    assert tiled.shape == (1, 3, 512, 512)
    assert torch.allclose(tiled, upsample(latents), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("tile, overlap", [(64, 8), (28, 28), (28, 0), (80, 8)])
def test_a_tiling_that_does_not_fit_the_latent_is_refused(tile, overlap):
    with pytest.raises(ValueError, match=r"decode tiling needs 0 < overlap < tile < latent size \(64\)"):
        DecodeTiling(tile, overlap).check(64)


def test_a_tiled_bundle_records_its_tiling_and_seam_error_and_its_runner_blends_the_tiles():
    folder = tiled_tiny_bundle()
    manifest = read_bundle(folder).manifest
    record = manifest.decode_tiling
    assert {key: record[key] for key in DECODE_TILING} == DECODE_TILING and record["tiles"] == 9
    assert manifest.graphs["decode"]["inputs"][0]["shape"] == [1, 4, 28, 28]
    assert manifest.graphs["decode"]["outputs"][0]["shape"] == [1, 3, 224, 224]
    # The seam error (fp32, tile by tile against whole): tiny's random VAE normalizes each tile by its own
    # statistics, so tiles differ: measured 19.0 dB when written (nano's trained VAE, 40/16 at 512²: 31.1 dB).
    # Tiles pasted at the wrong positions would be far lower (the blend itself: the tests above).
    assert 16.0 <= record["seam_psnr_db"] < 40.0, record
    # The test vector's decode went through the runner's tile loop against the fp32 graphs' own tile loop.
    report = verify_bundle(folder)
    assert report.errors["decode"] <= 1e-4, report.errors


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--backend", "executorch", "--decode-overlap", "8"], "--decode-overlap needs --decode-tile"),
        (["--backend", "onnxruntime", "--decode-tile", "40"], "backend onnxruntime runs the decode graph whole: a tiled decode (--decode-tile) is for executorch bundles"),
        (["--backend", "executorch", "--decode-tile", "64"], "decode tiling needs 0 < overlap < tile < latent size (64); got tile 64, overlap 16"),
    ],
)
def test_export_refuses_a_tiling_it_cannot_make_in_one_line(tmp_path, capsys, arguments, message):
    code = main(["export", "--model", "tiny", *arguments, "-o", str(tmp_path / "b")])
    error = capsys.readouterr().err
    assert code == 2 and message in error and "Traceback" not in error, error
    assert not (tmp_path / "b").exists()
