"""A changed conv2d node visitor for the XNNPACK serializer, for the length of a `with` block.

ExecuTorch 1.5.1 serializes each op through the node visitor registered for it (`register_node_visitor`).
Changes to how convolutions are written (`half_conv_filters_stay_half`, `transient_indirection_buffers`) each
derive a class from the visitor registered when their block starts, so they stack; the one before is back
after the block, even after an error.
"""
from __future__ import annotations

import contextlib
from typing import Callable

CONVOLUTION = "aten.convolution.default"


@contextlib.contextmanager
def convolution_visitor(derive: Callable[[type], type]):
    """Registers `derive(current conv2d visitor class)` inside the block."""
    import executorch.backends.xnnpack.operators  # noqa: F401  (registers the stock visitors)
    from executorch.backends.xnnpack.operators.node_visitor import _node_visitor_dict, register_node_visitor

    outer = _node_visitor_dict[CONVOLUTION]
    register_node_visitor(derive(outer))
    try:
        yield
    finally:
        register_node_visitor(outer)
