"""The int8 graphs for XNNPACK, made with torchao PT2E and XNNPACK's int8 configs.

- The step: `edge_sdk.calibration.pt2e.quantize_step_graph` does prepare → (calibrate or set the recipe's
  ranges) → convert; this module prepares the step graph for it (time projections folded, position tables
  stored as int8) and re-exports the converted graph for lowering.
- The VAE (`quantized_vae_programs`): no recipe; every convolution and linear layer of encode and decode is
  int8 (per-channel symmetric weights, per-tensor affine activations: the step's configs), calibrated on the
  bundled photos (`edge_sdk.calibration.vae`), except VAE_KEPT_FP32. GroupNorm, SiLU, the residual adds and
  the mid-block attention's softmax are never annotated: they run in fp32 between the int8 layers.
  The export measures the lowered graphs' drift on held-out photos (`edge_sdk.bundle.export`).
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


# The int8 VAE's activation observer (calibration/observers.py) and the layers it keeps in fp32 (substrings of
# layer names), chosen by measurement on nano's trained VAE (README, "VAE precision"): min/max ranges beat the
# histogram observers (decode 38.8 dB against 33.8 for mse and 33.2 for percentile); the graphs' edges in fp32
# (the image and latent convolutions: conv_in, conv_out, quant_conv, post_quant_conv; little of the work)
# took decode from 37.1 to 38.8 dB and the encode's latent error from 0.17 to 0.13.
VAE_OBSERVER = "minmax"
VAE_KEPT_FP32: tuple[str, ...] = ("conv_in", "conv_out", "quant_conv")


def vae_layer_in_int8(name: str, kept_fp32: tuple[str, ...] = VAE_KEPT_FP32) -> bool:
    # "" is the graph's own code (the hole fill, the mask resize): no layer of the VAE.
    return bool(name) and not any(part in name for part in kept_fp32)


def quantized_vae_programs(graphs, *, observer: str = VAE_OBSERVER, kept_fp32: tuple[str, ...] = VAE_KEPT_FP32) -> tuple[dict, dict]:
    """({name: ExportedProgram} of the int8 encode and decode graphs, summary for the manifest)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    from edge_sdk.calibration.pt2e import calibrate, layer_nodes, prepare
    from edge_sdk.calibration.vae import HELD_OUT, calibration_samples

    samples = calibration_samples(graphs)
    inputs = graphs.example_inputs()
    programs, counts = {}, {}
    # The encode graph's two encoder passes (strength < 1) each get their own weights: see with_unshared_weights.
    modules = {"encode": graphs.encode.with_unshared_weights(), "decode": graphs.decode}
    for name, calibration in (("encode", samples.encode), ("decode", samples.decode)):
        with torch.no_grad():
            exported = torch.export.export(modules[name], inputs[name]).module()
        layers = sorted(layer for layer in layer_nodes(exported) if vae_layer_in_int8(layer, kept_fp32))
        prepared = prepare(exported, dict.fromkeys(layers, "int8"), dict.fromkeys(layers, observer))
        calibrate(prepared, calibration)
        with torch.no_grad():
            programs[name] = torch.export.export(convert_pt2e(prepared), inputs[name])
        counts[name] = {"int8": len(layers), "fp32": len(layer_nodes(exported)) - len(layers)}
    summary = {
        "scheme": "PT2E static int8, XNNPACK configs: per-channel symmetric weights, per-tensor affine activations",
        "observer": observer,
        "layers": counts,
        "kept_fp32": list(kept_fp32),
        "calibration": {
            "photos": len(samples.encode),
            "held_out_photos": HELD_OUT,
            "decode_latents": "each photo's whole latents and its masked latents",
        },
    }
    return programs, summary
