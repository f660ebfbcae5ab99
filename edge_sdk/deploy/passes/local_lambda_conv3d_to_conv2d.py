"""Rewrite Local-λ's position `Conv3d(1, dk, (1, r, r))` as a `Conv2d(1, dk, r)` (docs/architecture.md).

The Conv3d sees V as [B, 1, dv, H, W] with a depth-1 kernel: every one of the dv value maps goes
through the same dk r×r filters. That is one Conv2d over B·dv single-channel maps with the kernel's
depth axis dropped, same bias. Its output [B·dv, dk, H, W] is λᵖ with the (k, v) axes swapped, which
the contraction with Q absorbs, so no transpose is needed. Conv3d is missing or slow on several
mobile runtimes; a 1-input-channel Conv2d is supported everywhere.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.passes.swap_modules import swap_modules
from edge_sdk.deploy.precision import cast
from edge_sdk.model import LocalLambda


class LocalLambdaConv2d(nn.Module):
    """Local-λ with the same projections and norms, and its position lambdas from a Conv2d.

    `fp32_lambda` (set by `edge_sdk.deploy.precision`) runs the spatial softmax, the content lambda
    and its contraction in fp32 when the weights are fp16/bf16.
    """

    def __init__(self, local: LocalLambda):
        super().__init__()
        self.heads, self.dim_k = local.heads, local.dim_k
        self.to_q, self.to_k, self.to_v = local.to_q, local.to_k, local.to_v
        self.norm_q, self.norm_v = local.norm_q, local.norm_v
        conv3d = local.pos_conv
        kernel, padding = conv3d.kernel_size[1:], conv3d.padding[1:]
        weight = conv3d.weight
        self.pos_conv = nn.Conv2d(1, conv3d.out_channels, kernel, padding=padding, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.pos_conv.weight.copy_(weight[:, :, 0])  # [dk, 1, 1, r, r] → [dk, 1, r, r]
            self.pos_conv.bias.copy_(conv3d.bias)
        self.fp32_lambda = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n, dk = h * w, self.dim_k
        acc = torch.float32 if self.fp32_lambda else x.dtype
        q = self.norm_q(self.to_q(x)).reshape(b, self.heads, dk, n)
        k = cast(self.to_k(x).reshape(b, dk, n), acc).softmax(dim=-1)
        v = self.norm_v(self.to_v(x))
        dv = v.shape[1]
        content_lambda = torch.einsum("bkn,bvn->bkv", k, cast(v.flatten(2), acc))
        position_lambdas = self.pos_conv(v.reshape(b * dv, 1, h, w)).reshape(b, dv, dk, n)  # [B, dv, dk, N]
        y = torch.einsum("bhkn,bkv->bhvn", cast(q, acc), content_lambda)
        y = y + cast(torch.einsum("bhkn,bvkn->bhvn", q, position_lambdas), acc)
        return cast(y, x.dtype).reshape(b, c, h, w)


def local_lambda_conv3d_to_conv2d(module: nn.Module) -> nn.Module:
    """Swap every LocalLambda of `module` in place for its Conv2d form."""
    return swap_modules(module, LocalLambda, LocalLambdaConv2d)
