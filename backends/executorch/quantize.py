"""The int8 step graph for XNNPACK: the calibration recipe applied with torchao PT2E and XNNPACK's int8 configs.

`edge_sdk.calibration.pt2e.quantize_step_graph` does prepare → (calibrate or set the recipe's ranges) →
convert; this module prepares the step graph for it (time projections folded, position tables stored as
int8) and re-exports the converted graph for lowering.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from edge_sdk.backends.base import require_recipe
from edge_sdk.deploy.passes.position_tables_as_int8 import position_tables_as_int8


def recipe_without(recipe, removed: list[str]):
    """The recipe minus layers that a rewrite removed from the graph (their work is now a constant table)."""
    gone = set(removed)
    return dataclasses.replace(recipe, layers={name: layer for name, layer in recipe.layers.items() if name not in gone})


def quantized_step_program(step: nn.Module, folded: list[str], recipe, example_inputs: tuple, calibration=None):
    """(ExportedProgram of the int8 step graph, summary for the manifest)."""
    from edge_sdk.calibration.pt2e import quantize_step_graph

    require_recipe(recipe)
    tables = position_tables_as_int8(step)
    applied = recipe_without(recipe, folded)
    converted = quantize_step_graph(step, applied, calibration, example_inputs=example_inputs)
    with torch.no_grad():
        program = torch.export.export(converted, tuple(example_inputs))
    counts = {precision: applied.count(precision) for precision in ("int8", "w8", "fp16", "fp32")}
    return program, {
        "recipe_data_hash": recipe.data_hash,
        "recipe_sdk_version": recipe.sdk_version,
        "layers": counts,
        "folded_time_projections": len(folded),
        "position_tables": {"count": len(tables), "precision": "w8 (int8 storage, fp32 contraction)"},
        "ranges_from": "calibration samples" if calibration else "recipe",
    }
