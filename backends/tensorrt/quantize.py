"""Explicit-quantization step graph for TensorRT with nvidia-modelopt, driven by the calibration recipe.

ModelOpt swaps each Conv2d/Linear for its quantized module (weight and input TensorQuantizers). The
recipe's int8 layers get both quantizers, its w8 layers the weight quantizer only (weight-only Q/DQ); its
fp16 layers stay fp32 here (a strongly typed network takes their type from the ONNX). Weights are per
output channel (axis 0), inputs per tensor.
A forward pass on the example input lets ModelOpt collect weight ranges, then each input quantizer's
amax is set from the recipe's activation range (symmetric: amax = max(|low|, |high|), zero point 0).
Exported with the TorchScript exporter, the quantizers become QuantizeLinear/DequantizeLinear pairs.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.backends.base import require_recipe
from edge_sdk.errors import ExportError


def int8_layers(recipe) -> dict[str, float]:
    """{layer: input amax} for the recipe's int8 layers."""
    layers = {}
    for name, layer in recipe.layers.items():
        if layer.precision == "int8":
            low, high = layer.activation_range["input"]
            layers[name] = max(abs(low), abs(high))
    return layers


def weight_only_layers(recipe) -> list[str]:
    return [name for name, layer in recipe.layers.items() if layer.precision == "w8"]


def quant_config(layers, weight_only=()) -> dict:
    entries = [{"quantizer_name": "*", "enable": False}]
    for name in list(layers) + list(weight_only):
        entries.append({"quantizer_name": f"{name}.weight_quantizer", "cfg": {"num_bits": 8, "axis": 0}})
    for name in layers:
        entries.append({"quantizer_name": f"{name}.input_quantizer", "cfg": {"num_bits": 8, "axis": None}})
    return {"quant_cfg": entries, "algorithm": "max"}


def modelopt_step(step: nn.Module, recipe, example_inputs: tuple, calibration=None):
    """(the fake-quantized step graph, summary). `step` is modified in place (pass a copy)."""
    import modelopt.torch.quantization as mtq

    require_recipe(recipe)
    layers = int8_layers(recipe)
    weight_only = weight_only_layers(recipe)
    modules = dict(step.named_modules())
    missing = sorted((set(layers) | set(weight_only)) - set(modules))
    if missing:
        raise ExportError(f"the recipe's int8 layer {missing[0]} is not in the step graph: was it made for another model?")

    def forward_loop(model):
        with torch.no_grad():
            for sample in calibration or [example_inputs]:
                model(*sample)

    quantized = mtq.quantize(step, quant_config(layers, weight_only), forward_loop)
    enabled = 0
    modules = dict(quantized.named_modules())
    for name, amax in layers.items():
        quantizer = modules[name].input_quantizer
        # The recipe's range, not the forward pass's: every backend quantizes to the same grid.
        quantizer.amax = torch.tensor(amax, dtype=torch.float32)
        enabled += int(quantizer.is_enabled)
    return quantized.eval(), {
        "tool": "nvidia-modelopt (mtq.quantize, int8 symmetric, per-channel weights), exported as Q/DQ",
        "int8_layers": len(layers),
        "weight_only_layers": len(weight_only),
        "fp16_layers_kept_fp32": recipe.count("fp16"),
        "enabled_input_quantizers": enabled,
        "recipe_data_hash": recipe.data_hash,
    }
