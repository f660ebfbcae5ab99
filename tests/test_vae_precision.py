"""The VAE's precision is a per-bundle choice: ExecuTorch exports fp32, fp16 or static int8 encode/decode graphs
next to either step precision, one precision for both graphs or one each (int8/fp32: int8 encode, fp32
decode); the int8 VAE's drift from fp32 on held-out photos is measured at export and stays within the bounds
measured on tiny; backends with one VAE precision refuse the others in one line.

(The default combinations are tested in test_backends_executorch.py: fp32 bundles with an fp32 VAE, int8
bundles with an fp16 one.)"""
import pytest

import edge_sdk
from edge_sdk.bundle.export import export_bundle
from edge_sdk.bundle.manifest import read_bundle
from edge_sdk.bundle.verify import verify_bundle
from edge_sdk.errors import ExportError
from edge_sdk.samples import sample_pairs

from backend_bundles import STEPS, psnr, tiny_bundles

# Measured on tiny when this was written: decode 25.6 dB and encode + decode 19.9 dB PSNR against fp32 on the
# held-out photos, encode relative error 0.18, the test vector's decode 0.077. Tiny's VAE has random weights, whose
# wide activation ranges int8 takes badly: a trained VAE drifts far less (nano: 38.8 dB, README), so these bounds
# guard against regressions, about 2.5 dB or 40% from what was measured, not the quality a user gets.
DECODE_PSNR_BOUND = 23.0
ROUND_TRIP_PSNR_BOUND = 17.5
ENCODE_ERROR_BOUND = 0.25
DECODE_VECTOR_BOUND = 0.11
# A whole inpaint of a held-out photo against the fp32 reference pipeline (the int8 step's drift included).
INPAINT_PSNR_BOUND = 35.0
# The same with an int8 encode and an fp32 decode ("int8/fp32"): 51.0 dB when this was written.
MIXED_INPAINT_PSNR_BOUND = 45.0


@pytest.fixture(scope="module")
def bundles():
    return tiny_bundles()


def test_an_executorch_bundle_has_the_vae_precision_asked_for_and_runs(bundles):
    # (fp32 and fp16 VAE graphs are the default ones of fp32 and int8 bundles: test_backends_executorch.py.)
    precision, vae = "int8", "int8"
    folder = bundles.bundle("executorch", precision, vae)
    manifest = read_bundle(folder).manifest
    assert manifest.vae_precision == vae
    assert {name: graph["precision"] for name, graph in manifest.graphs.items()} == {"encode": vae, "step": precision, "decode": vae}
    report = verify_bundle(folder)  # hashes, then the test vector in the ExecuTorch runtime
    assert report.errors["step"] <= report.tolerance["step"] and report.errors["decode"] <= report.tolerance["decode"]
    image, mask = sample_pairs()[1]  # held out from the int8 VAE's calibration
    result = edge_sdk.load(folder).inpaint(image, mask, seed=0)
    assert psnr(result, bundles.pipe(image, mask, steps=STEPS, seed=0, progress=False)) >= INPAINT_PSNR_BOUND


def test_the_int8_vae_is_smaller_and_its_drift_is_measured_at_export(bundles):
    int8_vae, fp16_vae = bundles.bundle("executorch", "int8", "int8"), bundles.bundle("executorch", "int8")
    manifest = read_bundle(int8_vae).manifest
    drift = manifest.vae_drift
    assert drift["measured_with"] == "executorch runtime" and drift["held_out_photos"] == 2, drift
    assert drift["decode_psnr_db"] >= DECODE_PSNR_BOUND, drift
    assert drift["round_trip_psnr_db"] >= ROUND_TRIP_PSNR_BOUND, drift
    assert drift["encode_relative_error"] <= ENCODE_ERROR_BOUND, drift
    # The held-out test vector's decode: the same drift seen as a relative error, widened to twice it.
    assert 0 < manifest.test_vector["measured"]["decode"] < DECODE_VECTOR_BOUND
    quantization = manifest.backend_details["vae_quantization"]
    assert quantization["layers"]["decode"]["int8"] > 10 and quantization["calibration"]["photos"] == len(sample_pairs()) - 2
    assert read_bundle(fp16_vae).manifest.vae_drift is None
    for name in ("encode", "decode"):
        # int8 filters: about half of fp16's bytes (biases, norms and the graph itself stay).
        assert (int8_vae / f"{name}.pte").stat().st_size < 0.7 * (fp16_vae / f"{name}.pte").stat().st_size, name


def test_an_int8_encode_with_an_fp32_decode_shares_their_graphs_and_keeps_the_fp32_decode_picture(bundles):
    folder = bundles.bundle("executorch", "int8", "int8/fp32")
    mixed = read_bundle(folder).manifest
    assert mixed.vae_precision == "int8/fp32"
    assert {name: graph["precision"] for name, graph in mixed.graphs.items()} == {"encode": "int8", "step": "int8", "decode": "fp32"}
    # The same lowered graphs as the int8 VAE's encode and the fp32 bundle's decode (one ProgramCache).
    int8_vae = read_bundle(bundles.bundle("executorch", "int8", "int8")).manifest
    fp32 = read_bundle(bundles.bundle("executorch", "fp32")).manifest
    assert mixed.graphs["encode"]["sha256"] == int8_vae.graphs["encode"]["sha256"]
    assert mixed.graphs["decode"]["sha256"] == fp32.graphs["decode"]["sha256"]
    # Its drift is the encode's alone: the decode is fp32 (ExecuTorch against PyTorch, float rounding only).
    drift = mixed.vae_drift
    assert drift["decode_psnr_db"] >= 60 and drift["encode_relative_error"] <= ENCODE_ERROR_BOUND, drift
    assert drift["round_trip_psnr_db"] > int8_vae.vae_drift["round_trip_psnr_db"], (drift, int8_vae.vae_drift)
    image, mask = sample_pairs()[1]
    result = edge_sdk.load(folder).inpaint(image, mask, seed=0)
    assert psnr(result, bundles.pipe(image, mask, steps=STEPS, seed=0, progress=False)) >= MIXED_INPAINT_PSNR_BOUND


@pytest.mark.parametrize(
    "backend, precision, vae, fragment",
    [
        ("onnxruntime", "fp32", "int8", "backend onnxruntime exports fp32 bundles with the VAE in fp32, not int8"),
        ("executorch-coreml", "fp16", "fp32", "the Core ML delegate computes every graph in fp16"),
        ("coreml", "w8", "fp16", "backend coreml exports w8 bundles with the VAE in w8, not fp16"),
    ],
)
def test_a_backend_refuses_a_vae_precision_it_does_not_have_before_exporting(bundles, tmp_path, backend, precision, vae, fragment):
    with pytest.raises(ExportError, match=fragment):
        export_bundle(bundles.graphs, backend, precision, tmp_path / "b", vae_precision=vae, programs=bundles.programs)
    assert list(tmp_path.iterdir()) == []


def test_the_int8_encode_of_a_run_from_the_image_loads_and_stays_close(bundles):
    # strength < 1: the encode graph encodes the photo twice (hole filled, then whole). Those two passes share the
    # encoder's weights, which XNNPACK cannot load in int8: the int8 graph gets a copy of them (with_unshared_weights).
    from executorch.runtime import Runtime

    from edge_sdk.backends.executorch.export import lowered
    from edge_sdk.backends.executorch.quantize import quantized_vae_programs
    from edge_sdk.calibration.vae import photos
    from edge_sdk.deploy import DeployGraphs
    from edge_sdk.image_metrics import relative_error

    graphs = DeployGraphs.build(bundles.pipe.denoiser, bundles.pipe.vae, steps=STEPS, strength=0.5)
    assert graphs.encode.with_clean_latents
    int8, _ = quantized_vae_programs(graphs)
    data, summary = lowered(int8["encode"], "xnnpack", layout_round_trips=False)
    assert summary["portable_ops"] == 0, summary
    method = Runtime.get().load_program(data).load_method("forward")
    image, mask = photos(graphs, [1])[0]  # held out from the int8 VAE's calibration
    expected = graphs.encode(image, mask)
    actual = method.execute([image.contiguous(), mask.contiguous()])
    assert len(actual) == len(expected) == 3
    for got, want in zip(actual, expected):
        assert relative_error(got, want) <= ENCODE_ERROR_BOUND
