"""fp16 convolution filters stay fp16 in the XNNPACK delegate's serialized graph.

ExecuTorch 1.5.1's XNNPACK serializer writes every convolution filter and bias as fp32 (`force_fp32` in its
conv2d node visitor); XNNPACK turns them back into fp16 when the program loads. For the fp16 VAE graphs of
an int8 bundle, a large share of its bytes (benchmarks/bundle_sizes.py measures them), that doubles their
size on disk and adds a conversion to every load, while XNNPACK's fp16 convolution takes fp16 filters as
they are (the results are bit-identical: the filters were fp16 numbers to begin with).

    with half_conv_filters():
        to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])

Inside the block the conv2d visitor (`convolution_visitor`) also keeps the fp16 filters and biases of
ordinary (ungrouped) convolutions in fp16. Transposed convolutions keep fp32 filters: XNNPACK's fp16
deconvolution refuses fp16 ones (`xnn_status_invalid_parameter` when the program loads). Grouped ones are
left as they are (untested). fp32 and int8 tensors are unaffected.
"""
from __future__ import annotations

from edge_sdk.backends.executorch._passes.convolution_visitor import CONVOLUTION, convolution_visitor


def _half_filter_convolution(outer: type) -> type:
    class HalfFilterConvolution(outer):
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

    return HalfFilterConvolution


def half_conv_filters():
    return convolution_visitor(_half_filter_convolution)
