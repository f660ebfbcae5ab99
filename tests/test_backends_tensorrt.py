"""TensorRT bundles: strongly typed ONNX (fp16, or int8 with explicit Q/DQ from nvidia-modelopt) and the
trtexec lines. No TensorRT here: the int8 Q/DQ graph is checked in ONNX Runtime against ModelOpt's own
fake-quantized PyTorch graph."""
import copy
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import edge_sdk
from edge_sdk.errors import BackendUnavailableError

from backend_bundles import tiny_bundles
from conftest import relative_error


@pytest.fixture(scope="module")
def bundles():
    return tiny_bundles()


def initializer_types(model) -> set:
    return {onnx.TensorProto.DataType.Name(t.data_type) for t in model.graph.initializer if len(t.dims) >= 2}


def test_fp16_onnx_is_typed_fp16_inside_with_fp32_interfaces(bundles):
    folder = bundles.bundle("tensorrt", "fp16")
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("encode", "step", "decode"):
        model = onnx.load(str(folder / f"{name}.onnx"))
        assert {onnx.TensorProto.DataType.Name(i.type.tensor_type.elem_type) for i in model.graph.input} <= {"FLOAT", "INT64"}
        assert {onnx.TensorProto.DataType.Name(o.type.tensor_type.elem_type) for o in model.graph.output} == {"FLOAT"}
        assert "FLOAT16" in initializer_types(model), name
        assert not any(n.op_type == "QuantizeLinear" for n in model.graph.node)
        command = manifest["backend_details"]["trtexec"][name]
        assert command.startswith(f"trtexec --onnx={name}.onnx --saveEngine={name}.engine --stronglyTyped")
        shapes = ",".join(f"{s['name']}:{'x'.join(map(str, s['shape']))}" for s in manifest["graphs"][name]["inputs"])
        assert f"--minShapes={shapes}" in command and f"--maxShapes={shapes}" in command and "--timingCacheFile=" in command


def first_int8_conv(model, recipe):
    """(layer name, output tensor) of the first Conv in graph order whose weight is Q/DQ'd from a recipe int8 layer."""
    producers = {out: node for node in model.graph.node for out in node.output}
    int8 = {name for name, layer in recipe.layers.items() if layer.precision == "int8"}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        dequantize = producers.get(node.input[1])
        quantize = producers.get(dequantize.input[0]) if dequantize is not None and dequantize.op_type == "DequantizeLinear" else None
        weight = quantize.input[0] if quantize is not None else ""
        if weight.endswith(".weight") and weight[: -len(".weight")] in int8:
            return weight[: -len(".weight")], node.output[0]
    raise AssertionError("no Q/DQ convolution in the graph")


def test_int8_onnx_has_symmetric_qdq_and_matches_modelopt_in_onnx_runtime(bundles):
    import onnxruntime as ort

    from edge_sdk.backends.tensorrt.quantize import modelopt_step
    from edge_sdk.bundle.known_answers import load_test_vector

    folder = bundles.bundle("tensorrt", "int8")
    model = onnx.load(str(folder / "step.onnx"))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"}
    values = {**initializers, **constants}
    pairs = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    int8 = bundles.recipe.count("int8")
    assert len(pairs) >= 4 * int8  # Q and DQ on the input and on the weight of every int8 layer
    for node in pairs:
        zero_point = values[node.input[2]]
        assert zero_point.dtype == np.int8 and not zero_point.any(), node.name

    graphs = bundles.graphs
    fake_quant, _ = modelopt_step(copy.deepcopy(graphs.step).eval(), bundles.recipe, graphs.example_inputs()["step"])
    vector = load_test_vector(folder / "test_vector.safetensors")
    inputs = (vector["step.x"], vector["step.masked_latents"], vector["step.mask_latent"], vector["step.step_index"])
    layer, tensor = first_int8_conv(model, bundles.recipe)
    captured = {}
    handle = dict(fake_quant.named_modules())[layer].register_forward_hook(lambda m, a, out: captured.setdefault("out", out))
    with torch.no_grad():
        expected = fake_quant(*inputs)
    handle.remove()
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got, got_layer = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
    # Same Q/DQ arithmetic: the first int8 convolution agrees with ModelOpt's fake quantization (to ~1e-4: a
    # few inputs sit on a rounding boundary; a wrong scale or zero point would be off by 1e-2 or more).
    assert relative_error(torch.from_numpy(got_layer), captured["out"]) < 1e-3
    # Through ~200 int8 layers rounding decisions diverge chaotically (a 1e-6 input change moves the
    # fake-quantized output as much as quantization does), so the whole step is compared by its error.
    reference = vector["step.next_x"]
    onnx_error, torch_error = relative_error(torch.from_numpy(got), reference), relative_error(expected, reference)
    assert 1e-4 < torch_error < 0.2 and 0.5 * torch_error < onnx_error < 2 * torch_error, (onnx_error, torch_error)


def test_tensorrt_bundle_is_refused_here_with_the_trtexec_line(bundles):
    folder = bundles.bundle("tensorrt", "int8")
    with pytest.raises(BackendUnavailableError, match="trtexec --onnx=step.onnx"):
        edge_sdk.load(folder)
