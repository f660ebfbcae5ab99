"""The step graph with every candidate layer's quantizers in place, switchable layer by layer.

The search for a mixed-precision recipe evaluates hundreds of configurations; running prepare/convert for
each would cost seconds apiece. Instead the graph is prepared once by PT2E with every candidate layer in
int8 and calibrated once; each calibrated observer then becomes a torchao `FakeQuantize` with the observer's
scale and zero point, and a configuration only switches those modules on or off:

- int8 layer: its input, weight and output quantizers on;
- w8 layer: its weight quantizer on;
- fp16 layer: its input, parameters and output rounded to half (a cast there and back);
- fp32 layer: nothing, unless a neighbour's int8 grid sits on the edge between them.

An activation quantizer used by several consumers is split into one per consumer first, so it is on for a
consumer exactly when PT2E's converted graph would quantize that edge: when the producer's output is int8
or the consumer's input is. `calibration.pt2e.quantize_step_graph` builds the same numbers with
quantize/dequantize ops; the tests hold the two to each other.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Iterable, Mapping, Optional, Sequence

import torch
from torch import nn
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.fake_quantize import FakeQuantize
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver

from edge_sdk.calibration import pt2e
from edge_sdk.calibration.policy import PRECISIONS

_PER_CHANNEL = (torch.per_channel_symmetric, torch.per_channel_affine)


class HalfRoundTrip(nn.Module):
    """x → float16 → x's dtype when enabled: what storing or computing the tensor in half keeps of it."""

    def __init__(self):
        super().__init__()
        self.enabled = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float16).to(x.dtype) if self.enabled else x


@dataclasses.dataclass(frozen=True)
class LayerParts:
    """Where one layer sits in the switchable graph (module names are attributes of the graph module)."""

    op: Node
    input_quantizer: Optional[str]
    weight_quantizer: Optional[str]
    output_quantizer: Optional[str]  # one of the (identical) per-consumer quantizers of its output
    relu: bool  # the op's only user is a relu, and the output quantizer follows the relu


class SwitchableQuantGraph(nn.Module):
    """forward(x, masked_latents, mask_latent, i) → next x, with per-layer precisions set by `set_precisions`."""

    def __init__(self, exported: GraphModule, layers: Sequence[str], observer: str):
        super().__init__()
        self.layers = tuple(layers)
        self.observer = observer
        everything_int8 = {name: "int8" for name in self.layers}
        self.graph_module = pt2e.prepare(exported, everything_int8, {name: observer for name in self.layers})
        missing = sorted(set(self.layers) - set(pt2e.layer_nodes(self.graph_module)))
        if missing:
            raise ValueError(f"{len(missing)} layers are not in the step graph, e.g. {missing[0]}")
        self.frozen = False
        self.calibration_count = 0
        self._roles: dict[str, set[tuple[str, str]]] = {}
        self._half: dict[str, list[str]] = {}
        self._precisions: dict[str, str] = {}

    # --- calibration -------------------------------------------------------------------------------

    def calibrate(self, samples: Iterable[tuple]) -> None:
        """Run the observers over step-graph inputs (more calls add to the same statistics)."""
        for sample in samples:
            self.observe(*sample)

    @torch.no_grad()
    def observe(self, x, masked_latents, mask_latent, i) -> torch.Tensor:
        """One step with the observers watching; returns the step's fp32 output (observers change nothing),
        so a recording run can calibrate as it goes."""
        if self.frozen:
            raise RuntimeError("the graph is frozen: its quantization parameters are fixed")
        self.calibration_count += 1
        return self.graph_module(x, masked_latents, mask_latent, i)

    def freeze(self) -> None:
        """Turn every observer into a FakeQuantize with its scale and zero point (switched off)."""
        if self.frozen:
            return
        if self.calibration_count == 0:
            raise RuntimeError("calibrate the graph before freezing it")
        gm = self.graph_module
        for node in list(gm.graph.nodes):
            if node.op == "call_module" and pt2e._is_quantizer_module(gm.get_submodule(node.target)):
                setattr(gm, node.target, _frozen_fake_quant(gm.get_submodule(node.target)))
        self._split_shared_quantizers()
        # Roles are read before the half round trips go in between the quantizers and the ops.
        self._roles = pt2e.observer_roles(gm)
        self._insert_half_round_trips()
        gm.graph.lint()
        gm.recompile()
        self.frozen = True
        self.set_precisions({})

    # --- configuration -----------------------------------------------------------------------------

    def set_precisions(self, precisions: Mapping[str, str]) -> None:
        """Precision per candidate layer; layers not named run in fp32."""
        if not self.frozen:
            raise RuntimeError("freeze the graph before choosing precisions")
        for name, precision in precisions.items():
            if name not in self.layers:
                raise ValueError(f"{name!r} is not a candidate layer of this graph")
            if precision not in PRECISIONS:
                raise ValueError(f"precision of {name} must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        gm = self.graph_module
        for target, pairs in self._roles.items():
            on = any(
                (role in ("input", "output") and precisions.get(layer) == "int8")
                or (role == "weight" and precisions.get(layer) in ("int8", "w8"))
                for layer, role in pairs
            )
            gm.get_submodule(target).enable_fake_quant(on)
        for layer, targets in self._half.items():
            for target in targets:
                gm.get_submodule(target).enabled = precisions.get(layer) == "fp16"
        self._precisions = dict(precisions)

    @property
    def precisions(self) -> dict[str, str]:
        return {name: self._precisions.get(name, "fp32") for name in self.layers}

    def forward(self, x, masked_latents, mask_latent, i):
        return self.graph_module(x, masked_latents, mask_latent, i)

    # --- what the search and the recipe read ---------------------------------------------------------

    def activation_qparams(self, layers: Optional[Iterable[str]] = None) -> dict[str, dict[str, Optional[tuple]]]:
        """{layer: {"input": (scale, zero_point), "output": ...}} of its int8 activation grids."""
        return pt2e.activation_qparams(self.graph_module, self.layers if layers is None else layers, self._roles)

    def layer_parts(self, layer: str) -> LayerParts:
        gm = self.graph_module
        (op,) = pt2e.layer_nodes(gm)[layer]  # every candidate is one conv or linear call
        input_q = weight_q = output_q = None
        for target, pairs in self._roles.items():
            if (layer, "input") in pairs and _feeds(gm, target, op, 0):
                input_q = target
            if (layer, "weight") in pairs:
                weight_q = target
            if (layer, "output") in pairs and output_q is None:
                output_q = target
        users = list(op.users)
        # Through the half round trip inserted after the op.
        while len(users) == 1 and users[0].op == "call_module" and isinstance(gm.get_submodule(users[0].target), HalfRoundTrip):
            users = list(users[0].users)
        relu = len(users) == 1 and users[0].op == "call_function" and users[0].target in pt2e.RELU_OPS
        return LayerParts(op, input_q, weight_q, output_q, relu)

    # --- graph surgery -----------------------------------------------------------------------------

    def _split_shared_quantizers(self) -> None:
        """Give every consumer of an activation quantizer its own copy (same scale and zero point)."""
        gm = self.graph_module
        for node in list(gm.graph.nodes):
            if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), FakeQuantize):
                continue
            users = list(node.users)
            for index, user in enumerate(users[1:], start=1):
                name = f"{node.target}_user{index}"
                gm.add_submodule(name, copy.deepcopy(gm.get_submodule(node.target)))
                with gm.graph.inserting_after(node):
                    twin = gm.graph.call_module(name, node.args, node.kwargs)
                user.replace_input_with(node, twin)

    def _insert_half_round_trips(self) -> None:
        gm = self.graph_module
        ops = pt2e.layer_nodes(gm)
        for layer in self.layers:
            for op in ops[layer]:
                targets = []
                new_args = list(op.args)
                for position, arg in enumerate(op.args[:3]):  # input, weight, bias
                    if isinstance(arg, Node):
                        target = self._add_half_module(layer, len(targets))
                        with gm.graph.inserting_before(op):
                            new_args[position] = gm.graph.call_module(target, (arg,))
                        targets.append(target)
                op.args = tuple(new_args)
                target = self._add_half_module(layer, len(targets))
                with gm.graph.inserting_after(op):
                    rounded = gm.graph.call_module(target, (op,))
                op.replace_all_uses_with(rounded, delete_user_cb=lambda user, rounded=rounded: user is not rounded)
                targets.append(target)
                self._half[layer] = self._half.get(layer, []) + targets

    def _add_half_module(self, layer: str, index: int) -> str:
        name = f"half_{layer.replace('.', '_')}_{index}"
        self.graph_module.add_submodule(name, HalfRoundTrip())
        return name


def _frozen_fake_quant(observer: nn.Module) -> FakeQuantize:
    """A switched-off FakeQuantize with the scale and zero point `observer` computes from what it saw."""
    scale, zero_point = observer.calculate_qparams()
    per_channel = observer.qscheme in _PER_CHANNEL
    extra = {"ch_axis": observer.ch_axis} if per_channel else {}
    fake_quant = FakeQuantize(
        observer=PerChannelMinMaxObserver if per_channel else MinMaxObserver,
        quant_min=observer.quant_min,
        quant_max=observer.quant_max,
        dtype=observer.dtype,
        qscheme=observer.qscheme,
        **extra,
    )
    fake_quant.scale = scale.detach().to(torch.float32).clone()
    fake_quant.zero_point = zero_point.detach().to(torch.int32).clone()
    fake_quant.disable_observer()
    fake_quant.disable_fake_quant()
    return fake_quant


def _feeds(gm: GraphModule, target: str, op: Node, position: int) -> bool:
    arg = op.args[position]
    # Through the half round trip inserted in front of the op.
    while isinstance(arg, Node) and arg.op == "call_module" and isinstance(gm.get_submodule(arg.target), HalfRoundTrip):
        arg = arg.args[0]
    return isinstance(arg, Node) and arg.op == "call_module" and arg.target == target
