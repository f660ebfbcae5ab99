"""Applying a recipe to the step graph with torchao PT2E and ExecuTorch's XNNPACK quantization configs.

    graph = quantize_step_graph(graphs.step, recipe, calibration_samples)   # torch.fx.GraphModule
    next_x = graph(x, masked_latents, mask_latent, i)

The result is `convert_pt2e`'s graph: int8 layers carry quantize/dequantize ops (what ExecuTorch's XNNPACK
partitioner lowers to int8 kernels), fp16 layers run between casts to half, the rest stays fp32. The
ExecuTorch backend exports it again and lowers it.

Why not `XNNPACKQuantizer.set_module_name`: in the graph `torch.export(...).module()` gives, a conv's weight
and bias are `get_attr` nodes without an `nn_module_stack`, so the module-name filter rejects every conv
partition (nothing gets quantized), and the `cat` annotator ignores filters altogether (every skip
concatenation, and the step graph's input latents, would be quantized). `RecipeQuantizer` therefore calls
XNNPACK's own conv and linear annotators, with XNNPACK's own configs, once per group of layers.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Iterable, Mapping, Optional, Sequence

import torch
from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import get_symmetric_quantization_config
from executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils import OP_TO_ANNOTATOR, propagate_annotation
from torch import nn
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.observer import FixedQParamsObserver, MinMaxObserver, ObserverBase
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
from torchao.quantization.pt2e.quantizer import QuantizationConfig, Quantizer

from edge_sdk.calibration.errors import RecipeError
from edge_sdk.calibration.observers import observer_class

# XNNPACK's annotators for the layers a recipe names; conv+relu first, as XNNPACKQuantizer orders them.
LAYER_PATTERNS = ("conv_relu", "conv", "linear_relu", "linear")
LAYER_OPS = {torch.ops.aten.conv2d.default, torch.ops.aten.convolution.default, torch.ops.aten.linear.default}
RELU_OPS = {torch.ops.aten.relu.default, torch.ops.aten.relu_.default}
# Ops that pass quantization parameters through unchanged (XNNPACK propagates annotations across them).
_SHARING_OPS = {
    torch.ops.aten.relu.default,
    torch.ops.aten.view.default,
    torch.ops.aten.reshape.default,
    torch.ops.aten.permute.default,
    torch.ops.aten.transpose.int,
    torch.ops.aten.flatten.using_ints,
    torch.ops.aten.squeeze.dim,
    torch.ops.aten.slice.Tensor,
    torch.ops.aten.view_copy.default,
    torch.ops.aten.permute_copy.default,
}

StepInputs = tuple  # (x [1,4,64,64], masked_latents [1,4,64,64], mask_latent [1,1,64,64], i int64 [1])


# --- quantization configs -------------------------------------------------------------------------


def int8_config(observer: str) -> QuantizationConfig:
    """XNNPACK's static int8 config (symmetric per-channel weights, affine per-tensor activations) with the
    activation observer the recipe names."""
    base = get_symmetric_quantization_config(is_per_channel=True)
    # XNNPACK passes eps = 2**-12 to its observers; keep it for ours.
    activation = dataclasses.replace(base.input_activation, observer_or_fake_quant_ctr=observer_class(observer).with_args(eps=2**-12))
    return QuantizationConfig(activation, activation, base.weight, base.bias, False)


def weight_only_config() -> QuantizationConfig:
    """int8 weights (XNNPACK's per-channel spec), float activations."""
    base = get_symmetric_quantization_config(is_per_channel=True)
    return QuantizationConfig(None, None, base.weight, None, False)


# --- which layer a node belongs to ----------------------------------------------------------------


def layer_of(node: Node) -> Optional[str]:
    """The module path a graph node comes from (weights: their owner; a relu: the conv it follows)."""
    if node.op == "get_attr":
        return str(node.target).rsplit(".", 1)[0]
    if node.op == "call_function" and node.target in RELU_OPS and isinstance(node.args[0], Node):
        return layer_of(node.args[0])
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None
    path = list(stack.values())[-1][0]
    return path[len("L['self'].") :] if path.startswith("L['self'].") else path


def layer_nodes(graph_module: GraphModule) -> dict[str, list[Node]]:
    """Conv/linear op nodes per layer name."""
    found: dict[str, list[Node]] = {}
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and node.target in LAYER_OPS:
            name = layer_of(node)
            if name is not None:
                found.setdefault(name, []).append(node)
    return found


class RecipeQuantizer(Quantizer):
    """Annotates each named layer with its QuantizationConfig using XNNPACK's conv/linear annotators."""

    def __init__(self, layer_configs: Mapping[str, QuantizationConfig]):
        super().__init__()
        self.groups: dict[QuantizationConfig, set[str]] = {}
        for name, config in layer_configs.items():
            self.groups.setdefault(config, set()).add(name)

    def annotate(self, model: GraphModule) -> GraphModule:
        for config, names in self.groups.items():
            def belongs(node: Node, names=names) -> bool:
                return layer_of(node) in names

            for pattern in LAYER_PATTERNS:
                OP_TO_ANNOTATOR[pattern](model, config, belongs)
        propagate_annotation(model)
        return model

    def validate(self, model: GraphModule) -> None:
        pass


# --- export, prepare, convert ---------------------------------------------------------------------


def export_step(step: nn.Module, example_inputs: StepInputs) -> GraphModule:
    """The step graph as the ATen-level GraphModule PT2E works on."""
    with torch.no_grad():
        return torch.export.export(step, tuple(example_inputs)).module()


def prepare(exported: GraphModule, precisions: Mapping[str, str], observers: Mapping[str, str]) -> GraphModule:
    """`prepare_pt2e` on a copy of `exported`, annotating int8 and w8 layers; the others stay float."""
    # One config object per kind, so RecipeQuantizer runs one annotator pass per group of layers.
    by_kind: dict[tuple, QuantizationConfig] = {}
    configs = {}
    for name, precision in precisions.items():
        if precision == "int8":
            kind = ("int8", observers[name])
            configs[name] = by_kind.get(kind) or by_kind.setdefault(kind, int8_config(observers[name]))
        elif precision == "w8":
            configs[name] = by_kind.get(("w8",)) or by_kind.setdefault(("w8",), weight_only_config())
    return prepare_pt2e(copy.deepcopy(exported), RecipeQuantizer(configs))


@torch.no_grad()
def calibrate(prepared: GraphModule, samples: Iterable[StepInputs]) -> int:
    count = 0
    for sample in samples:
        prepared(*sample)
        count += 1
    return count


def observer_roles(graph_module: GraphModule) -> dict[str, set[tuple[str, str]]]:
    """For each observer (or fake-quantize) module: the (layer, role) pairs it quantizes.

    Roles: "input" and "weight" when it feeds a layer's op; "output" when it observes what a layer's op
    produced (possibly through relu/reshape-like ops that share its parameters). One activation observer can
    be a layer's output and the next layer's input at once.
    """
    roles: dict[str, set[tuple[str, str]]] = {}
    for node in graph_module.graph.nodes:
        if node.op != "call_module" or not _is_quantizer_module(graph_module.get_submodule(node.target)):
            continue
        found = roles.setdefault(str(node.target), set())
        producer = node.args[0]
        # Back through ops that share the producer's parameters and through other quantizers on the way.
        while isinstance(producer, Node) and (
            (producer.op == "call_function" and producer.target in _SHARING_OPS) or producer.op == "call_module"
        ):
            producer = producer.args[0]
        if isinstance(producer, Node) and producer.op == "call_function" and producer.target in LAYER_OPS:
            found.add((layer_of(producer), "output"))
        for user in node.users:
            if user.op == "call_function" and user.target in LAYER_OPS:
                if user.args[0] is node:
                    found.add((layer_of(user), "input"))
                if len(user.args) > 1 and user.args[1] is node:
                    found.add((layer_of(user), "weight"))
    return roles


def int8_qparams(module: nn.Module) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor observer or fake-quantize module."""
    scale, zero_point = _qparams(module)
    return float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])


def activation_qparams(
    graph_module: GraphModule, layers: Iterable[str], roles: Optional[Mapping[str, set]] = None
) -> dict[str, dict[str, Optional[tuple[float, int]]]]:
    """{layer: {"input": (scale, zero_point), "output": ...}} of the calibrated activation observers
    (`roles`: `observer_roles` of the graph, when computed before later rewrites hid them)."""
    wanted = set(layers)
    found = {name: {"input": None, "output": None} for name in wanted}
    for target, pairs in (observer_roles(graph_module) if roles is None else roles).items():
        module = graph_module.get_submodule(target)
        for layer, role in pairs:
            if layer in wanted and role in ("input", "output"):
                found[layer][role] = int8_qparams(module)
    return found


def apply_recipe_qparams(prepared: GraphModule, recipe) -> None:
    """Replace each activation observer by torchao's FixedQParamsObserver holding the recipe's scale and zero
    point for it (or a MinMaxObserver holding its range, for recipes that only give ranges), so
    convert_pt2e writes the recipe's int8 grids without any calibration data."""
    for target, pairs in observer_roles(prepared).items():
        observed = [(layer, role) for layer, role in sorted(pairs) if role in ("input", "output")]
        if not observed:
            continue  # a weight observer: weights are observed from the weights themselves
        qparams = low_high = None
        for layer, role in observed:
            entry = recipe.layers.get(layer)
            if entry is None or entry.precision != "int8":
                continue
            if entry.activation_qparams is not None and entry.activation_qparams.get(role) is not None:
                qparams = entry.activation_qparams[role]
                break
            if entry.activation_range is not None and entry.activation_range.get(role) is not None:
                low_high = entry.activation_range[role]
                break
        old = prepared.get_submodule(target)
        if qparams is not None:
            fixed = FixedQParamsObserver(
                qparams[0], qparams[1], dtype=old.dtype, qscheme=old.qscheme, quant_min=old.quant_min, quant_max=old.quant_max
            )
        elif low_high is not None:
            # A range alone: torchao's MinMaxObserver turns it into a scale and zero point.
            fixed = MinMaxObserver(dtype=old.dtype, qscheme=old.qscheme, quant_min=old.quant_min, quant_max=old.quant_max, eps=float(old.eps))
            fixed.min_val = torch.tensor(float(low_high[0]))
            fixed.max_val = torch.tensor(float(low_high[1]))
        else:
            raise RecipeError(f"the recipe has no activation range for {observed[0][0]} ({observed[0][1]})")
        setattr(prepared, target, fixed)


def cast_layers_to_half(graph_module: GraphModule, layers: Iterable[str]) -> GraphModule:
    """Run the named layers' ops in float16: cast the input and parameters to half, the result back."""
    wanted = set(layers)
    graph = graph_module.graph
    for name, nodes in layer_nodes(graph_module).items():
        if name not in wanted:
            continue
        for op in nodes:
            new_args = list(op.args)
            for position, arg in enumerate(op.args[:3]):
                if not isinstance(arg, Node):
                    continue
                if arg.op == "get_attr":
                    _set_attr(graph_module, str(arg.target), _get_attr(graph_module, str(arg.target)).to(torch.float16))
                else:
                    with graph.inserting_before(op):
                        new_args[position] = graph.call_function(torch.ops.aten._to_copy.default, (arg,), {"dtype": torch.float16})
            op.args = tuple(new_args)
            with graph.inserting_after(op):
                back = graph.call_function(torch.ops.aten._to_copy.default, (op,), {"dtype": torch.float32})
            op.replace_all_uses_with(back, delete_user_cb=lambda user: user is not back)
    graph.lint()
    graph_module.recompile()
    return graph_module


def quantize_step_graph(
    step_module: nn.Module,
    recipe,
    calibration_samples: Optional[Sequence[StepInputs]] = None,
    *,
    example_inputs: Optional[StepInputs] = None,
) -> GraphModule:
    """The step graph quantized as `recipe` says, through PT2E (prepare → calibrate → convert).

    With `calibration_samples` (step-graph inputs, e.g. `CalibrationSet.samples()`), the observers are run
    on them; without, the scales and zero points stored in the recipe set the int8 grids. Either way weights are
    quantized from the module's own weights. Raises RecipeError when the recipe names layers the step graph
    does not have (a recipe for another model or another preset).
    """
    samples = list(calibration_samples) if calibration_samples is not None else []
    example = example_inputs if example_inputs is not None else (samples[0] if samples else None)
    if example is None:
        raise ValueError("pass calibration_samples or example_inputs: the step graph is exported on one of them")
    exported = export_step(step_module, example)
    graph_layers = set(layer_nodes(exported))
    unknown = sorted(set(recipe.layers) - graph_layers)
    if unknown:
        raise RecipeError(
            f"the recipe does not fit this step graph: {len(unknown)} of its layers are not in it (e.g. {unknown[0]}); "
            "was it made for another model?"
        )
    precisions = recipe.precisions()
    observers = {name: layer.observer for name, layer in recipe.layers.items()}
    prepared = prepare(exported, precisions, observers)
    calibrate(prepared, samples or [example])
    if not samples:
        apply_recipe_qparams(prepared, recipe)
    converted = convert_pt2e(prepared)
    half = [name for name, precision in precisions.items() if precision == "fp16"]
    if half:
        cast_layers_to_half(converted, half)
    return converted


# --- helpers --------------------------------------------------------------------------------------


def _is_quantizer_module(module: nn.Module) -> bool:
    from torchao.quantization.pt2e.fake_quantize import FakeQuantizeBase

    return isinstance(module, (ObserverBase, FakeQuantizeBase))


def _qparams(module: nn.Module):
    from torchao.quantization.pt2e.fake_quantize import FakeQuantizeBase

    if isinstance(module, FakeQuantizeBase):
        return module.scale, module.zero_point
    return module.calculate_qparams()


def _get_attr(module: nn.Module, target: str) -> torch.Tensor:
    owner, _, name = target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _set_attr(module: nn.Module, target: str, value: torch.Tensor) -> None:
    owner, _, name = target.rpartition(".")
    parent = module.get_submodule(owner) if owner else module
    if isinstance(getattr(parent, name), nn.Parameter):
        value = nn.Parameter(value, requires_grad=False)
    setattr(parent, name, value)
