"""Convolutions build their indirection buffers per run, in XNNPACK's shared workspace.

XNNPACK computes a k×k convolution as a GEMM over an indirection buffer: one pointer per output pixel and
kernel tap. By default each convolution keeps its own buffer for the life of the program, so the decode
graph's seven 3×3 convolutions at 512² hold 19 MB each (512 · 512 · 9 · 8 bytes), about 130 MB together, and
the smaller ones more. With XNNPACK's `XNN_FLAG_TRANSIENT_INDIRECTION_BUFFER` on a convolution node, the
buffer is filled at the start of each run in the runtime's workspace, which XNNPACK plans like an
intermediate tensor: only the running convolution's buffer exists. The results are bit-identical; filling a
buffer costs a pass over its pointers, little next to the convolution (docs/architecture.md, "Decode memory").

ExecuTorch 1.5.1 creates XNNPACK runtimes without the flag and serializes every convolution node with
`flags=0`, but passes a node's serialized flags to XNNPACK. Inside the block the conv2d visitor
(`convolution_visitor`) also sets the flag on ordinary and depthwise convolutions. Transposed convolutions
are left alone: XNNPACK's deconvolution has no such option.
"""
from __future__ import annotations

from edge_sdk.backends.executorch._passes.convolution_visitor import CONVOLUTION, convolution_visitor

# XNNPACK's include/xnnpack.h; ExecuTorch 1.5.1's xnnpack_constants does not list it.
XNN_FLAG_TRANSIENT_INDIRECTION_BUFFER = 0x00000020


def _transient_indirection_convolution(outer: type) -> type:
    from executorch.backends.xnnpack.serialization.xnnpack_graph_schema import XNNConv2d, XNNDepthwiseConv2d

    class TransientIndirectionConvolution(outer):
        target = CONVOLUTION

        def define_node(self, node, xnn_graph, *args, **kwargs):
            nodes_before = len(xnn_graph.xnodes)
            result = super().define_node(node, xnn_graph, *args, **kwargs)
            for serialized in xnn_graph.xnodes[nodes_before:]:
                if isinstance(serialized.xnode_union, (XNNConv2d, XNNDepthwiseConv2d)):
                    serialized.xnode_union.flags |= XNN_FLAG_TRANSIENT_INDIRECTION_BUFFER
            return result

    return TransientIndirectionConvolution


def transient_indirection_buffers():
    return convolution_visitor(_transient_indirection_convolution)
