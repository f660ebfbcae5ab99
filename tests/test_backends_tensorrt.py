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
from edge_sdk.bundle.errors import BackendUnavailableError

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


def test_int8_onnx_has_symmetric_qdq_and_matches_modelopt_in_onnx_runtime(bundles):
    import onnxruntime as ort

    from edge_sdk.backends.tensorrt.quantize import modelopt_step

    folder = bundles.bundle("tensorrt", "int8")
    model = onnx.load(str(folder / "step.onnx"))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    constants = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"}
    values = {**initializers, **constants}
    pairs = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    int8 = sum(1 for name, layer in bundles.recipe.layers.items() if layer.precision == "int8")
    assert len(pairs) >= 4 * int8  # input and weight Q/DQ per int8 layer
    for node in pairs:
        zero_point = values[node.input[2]]
        assert zero_point.dtype == np.int8 and not zero_point.any(), node.name

    graphs = bundles.graphs
    fake_quant, _ = modelopt_step(copy.deepcopy(graphs.step).eval(), bundles.recipe, graphs.example_inputs()["step"])
    from edge_sdk.bundle.test_vector import load_test_vector

    tv = load_test_vector(folder / "test_vector.safetensors")
    inputs = (tv["step.x"], tv["step.masked_latents"], tv["step.mask_latent"], tv["step.step_index"])
    with torch.no_grad():
        expected = fake_quant(*inputs)
    session = ort.InferenceSession(str(folder / "step.onnx"), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
    got = torch.from_numpy(session.run(None, feeds)[0])
    assert relative_error(got, expected) < 1e-3
    # and int8 is int8: the fake-quantized graph is measurably off the fp32 one
    assert relative_error(expected, tv["step.next_x"]) > 1e-5


def test_tensorrt_bundle_is_refused_here_with_the_trtexec_line(bundles):
    folder = bundles.bundle("tensorrt", "int8")
    with pytest.raises(BackendUnavailableError, match="trtexec --onnx=step.onnx"):
        edge_sdk.load(folder)
