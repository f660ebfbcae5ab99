"""Core ML bundles (ML programs): exported and inspected here with coremltools (no prediction on Linux):
inputs/outputs as the manifest says, the expected op types, quantization ops only where they belong."""
import json

import pytest

import edge_sdk
from edge_sdk.backends.coreml.export import describe_package
from edge_sdk.errors import BackendUnavailableError

from backend_bundles import tiny_bundles

WEIGHT_DEQUANTIZE = ("constexpr_blockwise_shift_scale", "constexpr_affine_dequantize")


@pytest.fixture(scope="module")
def bundles():
    return tiny_bundles()


@pytest.fixture(scope="module", params=["fp16", "w8", "int8"])
def exported(request, bundles):
    folder = bundles.bundle("coreml", request.param)
    packages = {name: describe_package(folder / f"{name}.mlpackage") for name in ("encode", "step", "decode")}
    return request.param, folder, json.loads((folder / "manifest.json").read_text()), packages


def test_packages_have_the_manifest_interface(exported):
    _, _, manifest, packages = exported
    for name, package in packages.items():
        expected = manifest["graphs"][name]
        assert [i["name"] for i in package["inputs"]] == [s["name"] for s in expected["inputs"]]
        assert [o["name"] for o in package["outputs"]] == [s["name"] for s in expected["outputs"]]
        floats = [i for i in package["inputs"] if i["name"] != "step_index"]
        assert all(i["shape"] == s["shape"] for i, s in zip(floats, expected["inputs"]))
    # Core ML has no int64: the step index input is int32 (the macOS runner casts it).
    assert packages["step"]["inputs"][3]["dtype"] == "INT32"


def test_operations_are_core_ml_ops_with_quantization_where_asked(exported, bundles):
    precision, folder, _, packages = exported
    step_ops = packages["step"]["operations"]
    # the λ contractions are matmuls, the tables are gathered, the rest convolutions and elementwise ops
    assert step_ops["conv"] >= 200 and step_ops["matmul"] >= 60 and step_ops["softmax"] == 15 and step_ops["gather"] == 5
    for name, package in packages.items():
        ops = package["operations"]
        weight_dequantize = sum(ops.get(op, 0) for op in WEIGHT_DEQUANTIZE)
        activation_quantize = ops.get("quantize", 0)
        if precision == "fp16":
            assert weight_dequantize == 0 and activation_quantize == 0, name
        elif precision == "w8":
            # int8 weights for every tensor above coremltools' 2,048-element threshold: most of the bytes
            assert weight_dequantize >= 0.5 * ops["conv"] and activation_quantize == 0, (name, ops)
        elif name == "step":  # W8A8: activations quantized by quantize/dequantize pairs
            assert activation_quantize > 50 and ops.get("dequantize", 0) + weight_dequantize > 50, ops
        else:
            assert activation_quantize == 0, name
    if precision != "fp16":
        # int8 weights shrink the package (W8A8 keeps the λ position tables, most of the tiny model's bytes, in fp16)
        fp16 = bundles.bundle("coreml", "fp16")
        step_bytes = lambda root: sum(p.stat().st_size for p in (root / "step.mlpackage").rglob("*") if p.is_file())  # noqa: E731
        assert step_bytes(folder) < (0.7 if precision == "w8" else 0.9) * step_bytes(fp16)


def test_core_ml_bundle_is_refused_on_linux_with_the_reason(exported):
    _, folder, _, _ = exported
    with pytest.raises(BackendUnavailableError, match="only on macOS"):
        edge_sdk.load(folder)
