"""Token ↔ feature-map reshapes without the transposes XNNPACK's layout pass puts around them.

Inside the XNNPACK delegate a convolution's output is stored channels-last (NHWC), which for a map
[B, C, H, W] is byte for byte the token tensor [B, H·W, C]. ExecuTorch 1.5.1's layout pass does not know
that: `x.permute(0, 2, 3, 1).reshape(B, N, C)` after a convolution becomes a transpose (the permute, applied
to the channels-last data) plus a transpose back to contiguous order (a reshape wants NCHW input), and
`t.reshape(B, H, W, C).permute(0, 3, 1, 2)` before a convolution becomes two more. Each pair moves the whole
tensor twice and changes nothing.

This pass runs after the stock layout passes (inside `to_edge_transform_and_lower`, while the block below is
active) and turns each such pair into one static reshape of the channels-last data:

    map → permute(0,2,3,1) → [to contiguous] → reshape        ⇒  reshape of the NHWC data
    tokens → reshape(B,H,W,C) → permute(0,3,1,2) → [to NHWC]  ⇒  reshape to NHWC data
    [to NHWC or NCHW] of a map with one channel or one pixel    ⇒  reshape (the same bytes either way)

In int8 graphs the chain carries quantize/dequantize pairs; they are walked through, and the reshape reads
and writes the types the chain's two ends had (`_Rewriter`). The permutes share their input's quantization
parameters, so an int8 reshape gives the same int8 tensor.
"""
from __future__ import annotations

import contextlib

import torch

TO_TOKENS = [0, 2, 3, 1]
TO_MAP = [0, 3, 1, 2]


def _ops():
    from executorch.exir.dialects._ops import ops as exir_ops

    edge = exir_ops.edge
    return {
        "view": edge.aten.view_copy.default,
        "permute": edge.aten.permute_copy.default,
        "copy": edge.aten._to_copy.default,
        "q": edge.quantized_decomposed.quantize_per_tensor.default,
        "dq": edge.quantized_decomposed.dequantize_per_tensor.default,
    }


def _is(node, target) -> bool:
    return isinstance(node, torch.fx.Node) and node.op == "call_function" and node.target == target


def _through_qdq(node, ops):
    """The first node above `node` that is not a per-tensor quantize or dequantize."""
    while _is(node, ops["q"]) or _is(node, ops["dq"]):
        node = node.args[0]
    return node


class _Rewriter:
    """Builds the replacement reshape so that its input and output are both int8 or both float.

    Inside the delegate a dequantize tagged "implicit" makes its consumer read int8 and a quantize tagged so
    makes its producer write int8; untagged ones are real conversions. A reshape must not change the type, so
    when the two ends of the removed chain differ, the reshape reads through a conversion of its own.
    """

    def __init__(self, graph_module: torch.fx.GraphModule, ops: dict):
        from executorch.backends.xnnpack.utils import quant_utils

        self.graph, self.ops = graph_module.graph, ops
        self.is_implicit, self.tag_implicit = quant_utils.is_tagged_as_implicit_q_dq, quant_utils.tag_as_implicit_q_dq
        self.implicit_tag = quant_utils.IS_IMPLICIT_Q_DQ_TAG

    def reads_int8(self, node) -> bool:
        return _is(node, self.ops["dq"]) and self.is_implicit(node)

    def writes_int8(self, node) -> bool:
        users = list(node.users)
        return len(users) == 1 and _is(users[0], self.ops["q"]) and self.is_implicit(users[0])

    def _call(self, target, args, like: torch.fx.Node, dtype, before: torch.fx.Node) -> torch.fx.Node:
        with self.graph.inserting_before(before):
            node = self.graph.call_function(target, args)
        fake = like.meta["val"]
        with fake.fake_mode:
            node.meta = {**like.meta, "val": torch.empty(tuple(fake.shape), dtype=dtype)}
        node.meta.pop(self.implicit_tag, None)  # a new node is a real conversion unless tagged below
        return node

    def reshape(self, source: torch.fx.Node, like: torch.fx.Node, int8_result: bool) -> torch.fx.Node:
        """view_copy(source) to `like`'s shape, inserted before `like`, reading int8 iff `int8_result`."""
        if self.reads_int8(source) and not int8_result:
            # An explicit dequantize of the same int8 tensor: the reshape reads float.
            source = self._call(self.ops["dq"], tuple(source.args), source, source.meta["val"].dtype, like)
        elif int8_result and not self.reads_int8(source):
            qparams = tuple(next(iter(like.users)).args[1:])
            quantized = self._call(self.ops["q"], (source, *qparams), source, qparams[-1], like)
            source = self._call(self.ops["dq"], (quantized, *qparams), source, source.meta["val"].dtype, like)
            self.tag_implicit(source)
        shape = list(like.meta["val"].shape)
        return self._call(self.ops["view"], (source, shape), like, like.meta["val"].dtype, like)


def _is_layout_copy(node, ops, memory_format) -> bool:
    """A copy the layout pass inserted (memory format only, no dtype change) into `memory_format`."""
    return _is(node, ops["copy"]) and set(node.kwargs) == {"memory_format"} and node.kwargs["memory_format"] == memory_format


def _map_to_tokens(view, ops, tags):
    """For reshape ← to contiguous ← permute(0,2,3,1) ← map (NHWC): the map's node, else None."""
    if not _is(view, ops["view"]):
        return None
    copy = _through_qdq(view.args[0], ops)
    if not _is_layout_copy(copy, ops, torch.contiguous_format):
        return None
    permute = _through_qdq(copy.args[0], ops)
    if _is(permute, ops["permute"]) and list(permute.args[1]) == TO_TOKENS and tags.is_nhwc_node(permute):
        return permute.args[0]
    return None


def _tokens_to_map(copy, ops, tags):
    """For to NHWC ← permute(0,3,1,2) ← reshape(B,H,W,C) ← tokens: the tokens' node, else None."""
    if not _is_layout_copy(copy, ops, torch.channels_last):
        return None
    permute = _through_qdq(copy.args[0], ops)
    if not (_is(permute, ops["permute"]) and list(permute.args[1]) == TO_MAP and not tags.is_nhwc_node(permute)):
        return None
    view = _through_qdq(permute.args[0], ops)
    return view.args[0] if _is(view, ops["view"]) else None


def _same_bytes_copy(copy, ops) -> bool:
    """A layout copy of a map with one channel or one pixel: [B, C, 1, 1] and [B, 1, H, W] read the same both ways."""
    if not (_is_layout_copy(copy, ops, torch.channels_last) or _is_layout_copy(copy, ops, torch.contiguous_format)):
        return False
    if any(user.op == "output" for user in copy.users):
        return False  # the delegate's outputs keep the copy: ExecuTorch sizes them from the copy's tensor
    shape = copy.meta["val"].shape
    return len(shape) == 4 and (shape[1] == 1 or shape[2] * shape[3] == 1)


def skip_layout_round_trips(graph_module: torch.fx.GraphModule) -> int:
    """Rewrite the graph in place (after XNNPACK's ChannelsLastTaggedReshapePass); returns the transposes
    (or pairs of them) replaced by reshapes."""
    from executorch.backends.xnnpack._passes.channels_last_tagged_reshape_pass import ChannelsLastTaggedReshapePass as Tags

    ops = _ops()
    rewrite = _Rewriter(graph_module, ops)
    removed = 0
    for node in list(graph_module.graph.nodes):
        source = _map_to_tokens(node, ops, Tags)
        to_nhwc = False
        if source is None:
            source = _tokens_to_map(node, ops, Tags)
            to_nhwc = source is not None
        if source is None and _same_bytes_copy(node, ops):
            source, to_nhwc = node.args[0], node.kwargs["memory_format"] == torch.channels_last
        if source is None:
            continue
        reshape = rewrite.reshape(source, node, rewrite.writes_int8(node))
        if to_nhwc:
            Tags.mark_as_nhwc_node(reshape)
        node.replace_all_uses_with(reshape)
        removed += 1
    if removed:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
    return removed


@contextlib.contextmanager
def without_layout_round_trips(counts: list | None = None):
    """While active, XNNPACK lowering runs `skip_layout_round_trips` after its own layout passes.

    ExecuTorch builds its delegate pass list from names in `executorch.backends.xnnpack._passes` when it
    lowers; the last of them (RemoveRedundantCopyPass) is swapped for a subclass that runs it and then this
    rewrite, and put back afterwards. `counts` (optional) receives the pairs removed per delegated subgraph.
    """
    import executorch.backends.xnnpack._passes as xnnpack_passes

    stock = xnnpack_passes.RemoveRedundantCopyPass

    class RemoveRedundantCopiesAndLayoutRoundTrips(stock):
        def call(self, graph_module):
            result = super().call(graph_module)
            removed = skip_layout_round_trips(result.graph_module)
            if counts is not None:
                counts.append(removed)
            return result

    xnnpack_passes.RemoveRedundantCopyPass = RemoveRedundantCopiesAndLayoutRoundTrips
    try:
        yield
    finally:
        xnnpack_passes.RemoveRedundantCopyPass = stock
