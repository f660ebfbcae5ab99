"""int8 step graph for ONNX Runtime: `onnxruntime.quantization.quantize_static`, QDQ.

The grids are the recipe's (those of XNNPACK's int8, which the calibration measured): weights int8, symmetric
per output channel (zero point 0); activations affine over the recipe's [low, high] range, stored as uint8
(the form ONNX Runtime's x86 and WebAssembly kernels take). int8 activations would fail to load in ONNX
Runtime 1.32: it rewrites them to uint8 itself (QDQS8ToU8Transformer) and, after QDQ propagation has added a
QuantizeLinear behind a Reshape, leaves that node typed int8 with a uint8 zero point ("output_dtype INT8 does
not match y_zero_point type UINT8").

The recipe decides which layers are int8 and their activation ranges: its layer names are matched to the
ONNX Conv/Gemm nodes through the exporter's module-path metadata (`pkg.torch.onnx.name_scopes`), and its
ranges are handed to ONNX Runtime as a calibration cache (ONNX Runtime's own `TensorsData` format), so no
calibration data is needed here. Everything else — the timestep path, the λ contractions, the DDIM
update, and the recipe's w8/fp16 layers (quantize_static has no per-layer choice for them) — stays fp32
because it is not in `nodes_to_quantize`, and float ops read float tensors where an int8 layer shares its
input with them (`_passes/float_consumers_read_float.py`).
"""
from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import numpy as np

from edge_sdk.backends.base import Progress, quiet, require_recipe
from edge_sdk.backends.onnxruntime._passes.float_consumers_read_float import float_consumers_read_float
from edge_sdk.errors import ExportError

QUANTIZABLE_OPS = ("Conv", "Gemm", "MatMul")


def module_path(node) -> str | None:
    """The torch module an ONNX node came from (the dynamo exporter's name scopes), e.g. 'denoiser.conv_in.conv_pw'."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = ast.literal_eval(prop.value)
            return scopes[-2] if len(scopes) >= 2 else None
    return None


def recipe_nodes(model, recipe) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """(ONNX node names to quantize, activation ranges by tensor name) for the recipe's int8 layers."""
    nodes, ranges, matched = [], {}, set()
    for node in model.graph.node:
        if node.op_type not in QUANTIZABLE_OPS:
            continue
        layer = recipe.layers.get(module_path(node) or "")
        if layer is None or layer.precision != "int8":
            continue
        matched.add(module_path(node))
        nodes.append(node.name)
        ranges[node.input[0]] = layer.activation_range["input"]
        if layer.activation_range.get("output") is not None:
            ranges[node.output[0]] = layer.activation_range["output"]
    wanted = {name for name, layer in recipe.layers.items() if layer.precision == "int8"}
    missing = sorted(wanted - matched)
    if missing:
        raise ExportError(f"the recipe's int8 layer {missing[0]} (and {len(missing) - 1} more) is not in the ONNX step graph: was it made for another model?")
    return nodes, ranges


def quantize_step_file(path: Path, recipe, progress: Progress = quiet) -> dict:
    """Replace the fp32 step `.onnx` at `path` by its QDQ int8 version; returns a summary for the manifest."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

    require_recipe(recipe)
    model = onnx.load(str(path))
    nodes, ranges = recipe_nodes(model, recipe)
    progress(f"step: {len(nodes)} Conv/Gemm nodes to int8, ranges from the recipe")
    with tempfile.TemporaryDirectory(prefix="ort-quant-") as work:
        cache = Path(work) / "ranges.json"
        data = {name: (np.float32(low), np.float32(high)) for name, (low, high) in ranges.items()}
        save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), cache)
        quantized = path.with_name(path.name + ".int8.partial")
        quantize_static(
            str(path),
            str(quantized),
            calibration_data_reader=None,
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_quantize=nodes,
            calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=str(cache),
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    result = onnx.load(str(quantized))
    rewired = float_consumers_read_float(result, set(nodes))
    onnx.save(result, str(quantized))
    quantized.replace(path)
    counts = {}
    for node in result.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return {
        "tool": "onnxruntime.quantization.quantize_static (QDQ: per-channel symmetric int8 weights, affine uint8 activations)",
        "int8_nodes": len(nodes),
        # quantize_static has no per-layer weight-only or fp16 choice: those recipe layers stay fp32 here.
        "w8_or_fp16_layers_kept_fp32": recipe.count("w8") + recipe.count("fp16"),
        "qdq_nodes": counts,
        "float_inputs_rewired": rewired,
        "recipe_data_hash": recipe.data_hash,
    }
