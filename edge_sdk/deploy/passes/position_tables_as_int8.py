"""Store Interactive-λ's position tables as int8 (one symmetric scale per position), dequantized in the graph.

The tables [N, dk, 10] (14.3 M values in the 0.2B model, 57 MB in fp32) are constants of a contraction that
stays in float (the λ contractions are kept out of int8 activations); only their storage shrinks. The graph
dequantizes them with `quantized_decomposed.dequantize_per_channel`, which ExecuTorch runs with its
quantized kernels (the app must link them: `kernels_quantized`). Weight-only ("w8") precision in recipe terms.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.passes.lambda_blocks_on_maps import MapInteractiveLambda

QMAX = 127


class Int8PositionTable(nn.Module):
    """The int8 table and its per-position scales; calling it returns the fp32 table."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        import torchao.quantization.pt2e  # noqa: F401  (registers the quantized_decomposed ops)

        flat = table.detach().float().reshape(table.shape[0], -1)
        scale = (flat.abs().amax(dim=1) / QMAX).clamp_min(torch.finfo(torch.float32).tiny)
        quantized = torch.clamp(torch.round(flat / scale[:, None]), -QMAX, QMAX).to(torch.int8)
        self.register_buffer("values", quantized.reshape(table.shape))
        self.register_buffer("scales", scale)
        self.register_buffer("zero_points", torch.zeros_like(scale, dtype=torch.int64))

    def forward(self) -> torch.Tensor:
        return torch.ops.quantized_decomposed.dequantize_per_channel(
            self.values, self.scales, self.zero_points, 0, -QMAX, QMAX, torch.int8
        )


def position_tables_as_int8(step_graph: nn.Module) -> list[str]:
    """Rewrite every Interactive-λ of `step_graph` in place to read its table from an Int8PositionTable;
    returns the layers changed."""
    changed = []
    for name, layer in list(step_graph.named_modules()):
        if not isinstance(layer, MapInteractiveLambda) or layer.position_table is not None:
            continue
        table = layer.position_embedding
        del layer._parameters["position_embedding"]
        layer.position_embedding = None
        layer.position_table = Int8PositionTable(table)
        changed.append(name)
    return changed
