"""fp16 convolution filters stay fp16 in the XNNPACK delegate's serialized graph.

ExecuTorch 1.5.1's XNNPACK serializer writes every convolution filter and bias as fp32 (`force_fp32` in its
conv2d node visitor); XNNPACK turns them back into fp16 when the program loads. For the fp16 VAE graphs of
an int8 bundle, a large share of its bytes (benchmarks/bundle_sizes.py measures them), that doubles their
size on disk and adds a conversion to every load, while XNNPACK's fp16 convolution takes fp16 filters as
they are (the results are bit-identical: the filters were fp16 numbers to begin with).

    with half_conv_filters():
        to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])

Inside the block the conv2d visitor is replaced (ExecuTorch's `register_node_visitor` registry) by one that
keeps the fp16 filters and biases of ordinary (ungrouped) convolutions in fp16. Transposed convolutions keep
fp32 filters: XNNPACK's fp16 deconvolution refuses fp16 ones (`xnn_status_invalid_parameter` when the
program loads). Grouped ones are left as they are (untested). fp32 and int8 tensors are unaffected. The
stock visitor is back after the block.
"""
from __future__ import annotations

import contextlib

CONVOLUTION = "aten.convolution.default"


@contextlib.contextmanager
def half_conv_filters():
    import executorch.backends.xnnpack.operators  # noqa: F401  (registers the stock visitors)
    from executorch.backends.xnnpack.operators.node_visitor import _node_visitor_dict, register_node_visitor

    stock = _node_visitor_dict[CONVOLUTION]

    class HalfFilterConvolution(stock):
        target = CONVOLUTION

        def define_node(self, node, *args, **kwargs):
            transposed, groups = node.args[6], node.args[8]
            self._keep_half = not transposed and groups == 1
            try:
                return super().define_node(node, *args, **kwargs)
            finally:
                self._keep_half = False

        def define_tensor(self, tensor, *args, force_fp32: bool = False, **kwargs):
            keep = getattr(self, "_keep_half", False) and kwargs.get("quant_params") is None
            return super().define_tensor(tensor, *args, force_fp32=force_fp32 and not keep, **kwargs)

    register_node_visitor(HalfFilterConvolution)
    try:
        yield
    finally:
        register_node_visitor(stock)
