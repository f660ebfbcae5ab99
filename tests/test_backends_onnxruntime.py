"""ONNX Runtime bundles: fp32 matches the reference pipeline; int8 is static QDQ (symmetric, zero point 0)
on the recipe's layers only, and drifts no more than the calibration predicted."""
import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import edge_sdk
from edge_sdk.samples import sample_pairs

from backend_bundles import STEPS, psnr, tiny_bundles
from backend_drift import predicted_and_measured_drift


@pytest.fixture(scope="module")
def bundles():
    return tiny_bundles()


def test_fp32_bundle_matches_the_reference_pipeline(bundles):
    folder = bundles.bundle("onnxruntime", "fp32")
    bundle = edge_sdk.load(folder)
    image, mask = sample_pairs()[0]
    assert psnr(bundle.inpaint(image, mask, seed=0), bundles.pipe(image, mask, steps=STEPS, seed=0, progress=False)) >= 60
    for name in ("encode", "step", "decode"):
        model = onnx.load(str(folder / f"{name}.onnx"))
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)  # browser-loadable
    step = onnx.load(str(folder / "step.onnx"))
    assert [i.name for i in step.graph.input] == ["x", "masked_latents", "mask_latent", "step_index"]
    assert "GroupNormalization" in {n.op_type for n in step.graph.node}  # opset 21 keeps GroupNorm whole


def test_onnx_is_the_former_name_of_onnxruntime(bundles, tmp_path):
    """Bundles and command lines written with "onnx" keep working; new bundles say "onnxruntime"."""
    from edge_sdk.cli import build_parser

    current = bundles.bundle("onnxruntime", "fp32")
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["backend"] == "onnxruntime"
    old = shutil.copytree(current, tmp_path / "old-bundle")
    (old / "manifest.json").write_text(json.dumps(dict(manifest, backend="onnx")))
    image, mask = sample_pairs()[0]
    assert np.array_equal(np.asarray(edge_sdk.load(old).inpaint(image, mask, seed=0)), np.asarray(edge_sdk.load(current).inpaint(image, mask, seed=0)))
    assert build_parser().parse_args(["export", "--backend", "onnx", "-o", str(tmp_path / "b")]).backend == "onnxruntime"


def test_int8_step_is_symmetric_qdq_on_the_recipe_layers(bundles):
    folder = bundles.bundle("onnxruntime", "int8")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {g: manifest["graphs"][g]["precision"] for g in ("encode", "step", "decode")} == {"encode": "fp32", "step": "int8", "decode": "fp32"}
    model = onnx.load(str(folder / "step.onnx"))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    quantize = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    dequantize = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert quantize and dequantize
    # The recipe's grids: weights int8 (biases int32), symmetric (zero point 0); activations affine over the
    # recipe's ranges, stored as uint8 (ORT's x86 form).
    stored = {"int8": 0, "int32": 0}
    for node in quantize + dequantize:
        zero_point = initializers[node.input[2]]
        if node.input[0] in initializers:
            assert zero_point.dtype in (np.int8, np.int32) and not zero_point.any(), node.name
            stored[zero_point.dtype.name] += 1
        else:
            assert zero_point.dtype == np.uint8 and zero_point.size == 1, node.name
    # One int8 weight per quantized node, except that identical filters (the one-hot row shifts of the positional
    # convolutions) are one initializer in the ONNX file.
    assert 0 < stored["int8"] <= manifest["backend_details"]["quantization"]["int8_nodes"]
    # Quantized convolutions and linear layers are exactly the recipe's int8 layers (time path, conv_in/out, λ internals stay fp32).
    int8_layers = {name for name, layer in bundles.recipe.layers.items() if layer.precision == "int8"}
    assert manifest["backend_details"]["quantization"]["int8_nodes"] == len(int8_layers)
    producers = {out: n for n in model.graph.node for out in n.output}
    # (The relative-score Local-λ layers' tables are linear layers: MatMul nodes.)
    fed_by_dequantize = {
        n.name for n in model.graph.node if n.op_type in ("Conv", "MatMul") and producers.get(n.input[1]) is not None
        and producers[n.input[1]].op_type == "DequantizeLinear"
    }
    assert len(fed_by_dequantize) == len(int8_layers)
    assert not any(n.op_type == "QuantizeLinear" and "time" in n.input[0] for n in quantize)
    # As in PT2E, only the edge into an int8 layer is quantized: a float op sharing that input (a residual add,
    # a GroupNorm after a skip concatenation) reads the float tensor. An int8 layer's own output (directly or
    # through its ReLU) is quantized for every consumer.
    consumers = {}
    for n in model.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    def int8_output(tensor):
        node = producers.get(tensor)
        node = producers.get(node.input[0]) if node is not None and node.op_type == "Relu" else node
        return node is not None and node.name in fed_by_dequantize

    activation_copies = [n for n in dequantize if n.input[0] not in initializers]
    for node in activation_copies:
        source = producers[node.input[0]].input[0]  # DequantizeLinear ← QuantizeLinear ← the tensor
        if not int8_output(source):
            assert all(c.name in fed_by_dequantize for c in consumers[node.output[0]]), node.name
    assert manifest["backend_details"]["quantization"]["float_inputs_rewired"] > 0


def test_int8_bundle_drifts_as_the_calibration_predicted(bundles):
    folder = bundles.bundle("onnxruntime", "int8")
    predicted, measured = predicted_and_measured_drift(bundles, edge_sdk.load(folder))
    assert measured >= predicted - 1.0, (measured, predicted)
