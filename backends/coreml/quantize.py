"""W8A8 step graph for Core ML: PT2E in torch with the recipe, then coremltools converts the Q/DQ pairs.

`CoreMLQuantizer` does not import with this torch (it needs the removed `torch.ao.quantization.quantizer`),
so the step graph is quantized with the calibration package's recipe quantizer (XNNPACK's int8 configs:
symmetric per-channel weights, per-tensor activations), which coremltools reads as quantize/dequantize.
"""
from __future__ import annotations

import copy

import torch

from edge_sdk.backends.base import require_recipe


def pt2e_step_program(graphs, recipe, example_inputs: tuple, calibration=None):
    from edge_sdk.calibration.pt2e import quantize_step_graph

    require_recipe(recipe)
    step = copy.deepcopy(graphs.step).eval()
    converted = quantize_step_graph(step, recipe, calibration, example_inputs=example_inputs)
    with torch.no_grad():
        program = torch.export.export(converted, tuple(example_inputs))
    return program, {
        "tool": "torchao PT2E (calibration recipe, XNNPACK int8 configs) converted by coremltools",
        "int8_layers": recipe.count("int8"),
        "recipe_data_hash": recipe.data_hash,
    }
