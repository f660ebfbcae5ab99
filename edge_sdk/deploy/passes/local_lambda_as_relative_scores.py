"""Local-λ on a small map as relative scores: the r×r position table meets Q first, then V (an exact reassociation).

The map form (`lambda_blocks_on_maps.MapLocalLambda`) builds every position's lambda λᵖ[n] = Σ_δ E[:, δ] ⊗ V[n+δ]
with a convolution (N·dv·dk·r² multiply-adds) and then contracts it with that position's Q in a batched matmul
over positions, whose tiny per-position matrices run far below a GEMM's rate. Contracting Q with the table first,

    Y[n, h, v] = Σ_k Q[n, h, k] λᶜ[k, v]  +  Σ_m S[n, h, m] V[m, v],    S[n, h, n+δ] = Σ_k Q[n, h, k] E[k, δ],

needs a linear layer for the relative scores A = Q·E (N·h·dk·r²), a relative → absolute re-indexing of A into S
(pads, reshapes and slices only) and two ordinary matmuls. S is dense [N·h, N]: cheap where the window covers most
of the map (the UNet's smallest level, 16×16 under a 15×15 window), wasteful on large maps, which keep the
convolution form. The position convolution's bias adds Σ_k Q[n, h, k] b[k] to every value channel: it joins the
content lambda. Module names stay the official ones; `attn1.pos_scores` (the table E as a linear layer) is new.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.precision import cast


def _relative_to_absolute(scores: torch.Tensor, pad: int) -> torch.Tensor:
    """[..., L, r + L] with column j = offset j − pad (zero for j ≥ r) → [..., L, L]: out[i, c] = scores[i, c − i + pad],
    zero where that offset is outside the window. The skew of the flattened matrix, sliced: reshapes and slices only."""
    *lead, length, padded = scores.shape
    rows = scores.reshape(-1, length * padded)[:, : length * (padded - 1)]  # row i now starts i columns further left
    return rows.reshape(-1, length, padded - 1)[..., pad : pad + length].reshape(*lead, length, length)


class RelativeScoreLocalLambda(nn.Module):
    """Local-λ of a MapLocalLambda's source layer, computed as Q·E then S·V (see the module docstring)."""

    def __init__(self, local, side: int):
        super().__init__()
        self.heads, self.dim_k = local.heads, local.dim_k
        self.fp32_lambda = local.fp32_lambda
        self.to_q, self.to_k, self.to_v = local.to_q, local.to_k, local.to_v
        pos = local.pos_conv  # Conv2d(1, dk, r×r): weight [dk, 1, r, r]
        r = self.window = pos.kernel_size[0]
        self.side = side
        weight = pos.weight
        # Scores for offsets (dy, dx) in an (r + side)² grid, zero outside r×r: the zero columns are the padding the
        # relative → absolute skew needs (produced by the layer, so no pad op sits between int8 ops).
        self.pos_scores = nn.Linear(self.dim_k, (r + side) ** 2, bias=False, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            table = torch.zeros(r + side, r + side, self.dim_k, device=weight.device, dtype=weight.dtype)
            table[:r, :r] = weight[:, 0].permute(1, 2, 0)  # [dy, dx, k]
            self.pos_scores.weight.copy_(table.reshape(-1, self.dim_k))
        self.pos_bias = nn.Parameter(pos.bias.detach().clone().reshape(1, -1, 1))  # [1, dk, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n, dk, heads, r = h * w, self.dim_k, self.heads, self.window
        acc = torch.float32 if self.fp32_lambda else x.dtype
        keys = cast(self.to_k(x).reshape(b, dk, n), acc).softmax(dim=-1)  # softmax over positions
        v = self.to_v(x)
        dv = v.shape[1]
        values = cast(v.permute(0, 2, 3, 1).reshape(b, n, dv), acc)  # tokens [B, N, dv]
        content = torch.bmm(keys, values) + cast(self.pos_bias, acc)  # [B, dk, dv], the table's bias included
        # Q by head: [B, h·N, dk], rows (head, y, x); every tensor below has at most 5 dims (Core ML's limit).
        q = self.to_q(x).permute(0, 2, 3, 1).reshape(b, n, heads, dk).transpose(1, 2).reshape(b, heads * n, dk)
        grid = r + self.side
        scores = self.pos_scores(q).reshape(b * heads, h, w, grid, grid)  # A[(b, head), y, x, dy, dx], zero-padded
        # Offsets → absolute columns, x first ([.., y, dy, x, x']), then y ([.., (x, x'), y, y']).
        by_x = _relative_to_absolute(scores.permute(0, 1, 3, 2, 4), r // 2)
        by_xy = _relative_to_absolute(by_x.reshape(b * heads, h, grid, w * w).permute(0, 3, 1, 2), r // 2)
        absolute = by_xy.reshape(b * heads, w, w, h, h).permute(0, 3, 1, 4, 2).reshape(b, heads * n, n)  # S[b, (head, y, x), (y', x')]
        y = torch.bmm(cast(q, acc), content) + torch.bmm(cast(absolute, acc), values)  # [B, h·N, dv]
        tokens = cast(y, x.dtype).reshape(b, heads, n, dv).transpose(1, 2)  # [B, N, h, dv]: channel = head·dv + v
        return tokens.reshape(b, h, w, c).permute(0, 3, 1, 2)
