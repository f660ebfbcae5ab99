"""FLOPs of a graph, counted by torch's FlopCounterMode (2 per multiply-accumulate; conv/matmul only).

This is the counting of docs/architecture.md ("The model", size): norms, softmax and elementwise ops are not counted. The module runs
on fake tensors (shapes only), so counting even the 0.2B graphs costs no compute and no memory.
"""
from __future__ import annotations

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.flop_counter import FlopCounterMode


def count_flops(module: nn.Module, inputs: tuple) -> dict:
    """{'total': int, 'by_op': {op name: int}} for one call of `module(*inputs)`."""
    counter = FlopCounterMode(display=False)
    # Real or meta weights are read as fake tensors of the same shape: nothing is computed.
    with FakeTensorMode(allow_non_fake_inputs=True) as fake_mode:
        fake_inputs = tuple(fake_mode.from_tensor(x) if isinstance(x, torch.Tensor) else x for x in inputs)
        with torch.no_grad(), counter:
            module(*fake_inputs)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {"total": int(counter.get_total_flops()), "by_op": by_op}


def conv_flops_by_kernel(module: nn.Module, inputs: tuple) -> dict:
    """FLOPs of every Conv2d call in one run of `module`, by the kind of kernel XNNPACK runs it with:
    'pointwise' (1×1, ungrouped: a GEMM), 'depthwise' (one input channel per output), 'convolution' (the rest,
    an indirect GEMM). Same counting as `count_flops` (2 per multiply-accumulate), from shapes only."""
    totals = {"pointwise": 0, "depthwise": 0, "convolution": 0}

    def record(conv: nn.Conv2d, _inputs, output):
        per_output = 2 * (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]
        if conv.groups == 1 and conv.kernel_size == (1, 1):
            kind = "pointwise"
        elif conv.groups == conv.in_channels and conv.out_channels == conv.in_channels:
            kind = "depthwise"
        else:
            kind = "convolution"
        totals[kind] += per_output * output.numel()

    hooks = [m.register_forward_hook(record) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        with FakeTensorMode(allow_non_fake_inputs=True) as fake_mode:
            fake_inputs = tuple(fake_mode.from_tensor(x) if isinstance(x, torch.Tensor) else x for x in inputs)
            with torch.no_grad():
                module(*fake_inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return totals
