"""What a graph contains: operator counts of an ExportedProgram and stored tensor sizes of a module."""
from __future__ import annotations

import collections

import torch
from torch import nn


def op_counts(program: torch.export.ExportedProgram) -> collections.Counter:
    """Count of every operator called in an exported graph, keyed by its name (e.g. 'aten.conv2d.default')."""
    return collections.Counter(
        str(node.target) for node in program.graph_module.graph.nodes if node.op == "call_function"
    )


def batch_norm_ops(program: torch.export.ExportedProgram) -> int:
    return sum(count for name, count in op_counts(program).items() if "batch_norm" in name)


def conv3d_ops(program: torch.export.ExportedProgram) -> int:
    """Convolutions over 3 spatial dims, whether exported as conv3d or as a generic convolution."""
    count = 0
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function" or "conv" not in str(node.target):
            continue
        weight = node.args[1].meta.get("val") if len(node.args) > 1 and hasattr(node.args[1], "meta") else None
        if "conv3d" in str(node.target) or (weight is not None and weight.dim() == 5):
            count += 1
    return count


def parameter_count(module: nn.Module) -> int:
    """Elements of the module's nn.Parameters (what `model.parameters()` reports)."""
    return sum(p.numel() for p in module.parameters())


def constant_count(module: nn.Module) -> int:
    """Elements of every tensor the graph stores: parameters and buffers (BN statistics, folded
    constants, schedule tables). The never-read `num_batches_tracked` counters are left out."""
    buffers = sum(b.numel() for name, b in module.named_buffers() if not name.endswith("num_batches_tracked"))
    return parameter_count(module) + buffers


def module_counts(module: nn.Module) -> collections.Counter:
    """Count of module types, e.g. {'BatchNorm2d': 109, 'Conv3d': 15}."""
    return collections.Counter(type(m).__name__ for m in module.modules())
