"""Run each LλMI block on channels-last feature maps, with token views only where λ contracts over tokens.

The official block (model.py) keeps tokens [B, N, C] and turns them into maps [B, C, H, W] and back around
every λ layer and the MixFFN. Deploy runtimes store a convolution's output channels-last (NHWC), which is
already the token layout, so the residual stream stays a map here and tokens are *views* of it:

- LayerNorm over channels is computed on the map (`ChannelLayerNorm`), the 1×1 projections stay
  convolutions, MixFFN is unchanged (it always ran on maps).
- Local-λ (`MapLocalLambda`): the positional convolution Conv2d(1, dk, r×r), applied to every value map, is
  factored into r one-hot row shifts (a grouped Conv2d(dv, dv·r, 1×r)) and a grouped Conv2d(dv·r, dv·dk, r×1):
  the same sums, but each kernel tap now reads r channels instead of one, which is what int8 convolution
  kernels are fast at. Its output is channels-last [B, N, dv, dk], the order the per-position contraction
  with Q needs; `to_q`'s output channels are reordered (k, head) so Q's view is Qᵀ per position; the content
  lambda is added to every position's lambda and one batched matmul does both terms.
  On the smallest maps, which the r×r window nearly covers, the table meets Q first instead
  (`local_lambda_as_relative_scores.RelativeScoreLocalLambda`, chosen by `local_lambda_for`).
- Interactive-λ (`MapInteractiveLambda`): the position table is stored [N, dk, L] for a batched matmul over
  positions and the constant keys/values enter as batched matmuls over rows: no transposes.

Exact in fp32 up to float rounding. Requires the other passes first (BatchNorms folded, the context folded,
the position Conv3d as Conv2d). Module names stay those of the official model (`attn1.to_q`, `ff.…`), so a
calibration recipe's layer names still apply; `attn1.pos_shift` (or `attn1.pos_scores`) is the one new layer.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from edge_sdk.deploy.passes.fold_interactive_lambda_context import FoldedInteractiveLambda
from edge_sdk.deploy.passes.local_lambda_as_relative_scores import RelativeScoreLocalLambda
from edge_sdk.deploy.passes.local_lambda_conv3d_to_conv2d import LocalLambdaConv2d
from edge_sdk.deploy.passes.swap_modules import swap_modules
from edge_sdk.deploy.precision import cast
from edge_sdk.model import LambdaBlock, Transformer


def _map_to_tokens(x: torch.Tensor, *shape: int) -> torch.Tensor:
    """[B, C, H, W] → [B, H, W, C] viewed as `shape`: the channels-last bytes as tokens."""
    return x.permute(0, 2, 3, 1).reshape(*shape)


def _tokens_to_map(t: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    """Tokens (any view of [B, H·W, C]) → the map [B, C, H, W]."""
    return t.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def _require_folded(*norms: nn.Module) -> None:
    if not all(isinstance(norm, nn.Identity) for norm in norms):
        raise ValueError("lambda_blocks_on_maps runs after fold_batch_norm: a λ layer still has a BatchNorm")


class ChannelLayerNorm(nn.Module):
    """nn.LayerNorm over the channels of a map [B, C, H, W] (the block's LayerNorm on tokens, same parameters)."""

    def __init__(self, norm: nn.LayerNorm):
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Channel sums, not means: int8 quantizers give a mean its input's grid (see channel_sum_as_convolution).
        channels = x.shape[1]
        centred = x - x.sum(dim=1, keepdim=True) / channels
        variance = (centred * centred).sum(dim=1, keepdim=True) / channels
        # 4-D affine parameters: broadcasting a 3-D one against a channels-last map would make XNNPACK transpose it.
        scale, shift = self.weight.reshape(1, -1, 1, 1), self.bias.reshape(1, -1, 1, 1)
        return centred * torch.rsqrt(variance + self.eps) * scale + shift


class MapLocalLambda(nn.Module):
    """Local-λ on a map: Y[n, h, v] = Σ_k Q[n, h, k] · (λᶜ[k, v] + λᵖ[n, v, k]) with λᵖ from row-factored convolutions."""

    def __init__(self, local: LocalLambdaConv2d):
        super().__init__()
        _require_folded(local.norm_q, local.norm_v)
        self.heads, self.dim_k = local.heads, local.dim_k
        self.fp32_lambda = local.fp32_lambda
        heads, dim_k = self.heads, self.dim_k
        dim_v = local.to_v.out_channels
        self.to_q = _reordered_query(local.to_q, heads, dim_k)
        self.to_k, self.to_v = local.to_k, local.to_v

        pos = local.pos_conv  # Conv2d(1, dk, r×r): weight [dk, 1, r, r]
        r = pos.kernel_size[0]
        device, dtype = pos.weight.device, pos.weight.dtype
        self.pos_shift = nn.Conv2d(dim_v, dim_v * r, (1, r), padding=(0, r // 2), groups=dim_v, bias=False, device=device, dtype=dtype)
        self.pos_conv = nn.Conv2d(dim_v * r, dim_v * dim_k, (r, 1), padding=(r // 2, 0), groups=dim_v, device=device, dtype=dtype)
        with torch.no_grad():
            # Shift channel (v, dx) holds value map v moved by dx − r//2 along x.
            self.pos_shift.weight.copy_(torch.eye(r, device=device, dtype=dtype).reshape(1, r, 1, 1, r).expand(dim_v, r, 1, 1, r).reshape(dim_v * r, 1, 1, r))
            # Output channel (v, k), input channel dx of group v, tap dy: the r×r filter k at (dy, dx).
            rows = pos.weight[:, 0].permute(0, 2, 1).unsqueeze(-1)  # [dk, dx, dy, 1]
            self.pos_conv.weight.copy_(rows.repeat(dim_v, 1, 1, 1))
            self.pos_conv.bias.copy_(pos.bias.repeat(dim_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n, dk, heads = h * w, self.dim_k, self.heads
        acc = torch.float32 if self.fp32_lambda else x.dtype
        keys = cast(self.to_k(x).reshape(b, dk, n), acc).softmax(dim=-1)  # softmax over positions
        v = self.to_v(x)
        dv = v.shape[1]
        content = torch.bmm(keys, cast(_map_to_tokens(v, b, n, dv), acc))  # [B, dk, dv]
        position = _map_to_tokens(self.pos_conv(self.pos_shift(v)), b, n, dv, dk)  # [B, N, dv, dk]
        lambdas = cast(position, acc) + content.transpose(1, 2).reshape(b, 1, dv, dk)
        q_by_position = cast(_map_to_tokens(self.to_q(x), b * n, dk, heads), acc)  # Qᵀ per position: [BN, dk, h]
        y = torch.bmm(lambdas.reshape(b * n, dv, dk), q_by_position)  # [BN, dv, h]
        return _tokens_to_map(cast(y, x.dtype).transpose(1, 2), b, h, w)  # channel = head·dv + v


def _reordered_query(to_q: nn.Conv2d, heads: int, dim_k: int) -> nn.Conv2d:
    """A copy of the 1×1 query projection whose output channel k·heads + head is the original head·dk + k."""
    order = torch.arange(heads * dim_k, device=to_q.weight.device).reshape(heads, dim_k).t().reshape(-1)
    reordered = nn.Conv2d(to_q.in_channels, to_q.out_channels, 1, bias=to_q.bias is not None, device=to_q.weight.device, dtype=to_q.weight.dtype)
    with torch.no_grad():
        reordered.weight.copy_(to_q.weight[order])
        if to_q.bias is not None:
            reordered.bias.copy_(to_q.bias[order])
    return reordered


def local_lambda_for(local: LocalLambdaConv2d, side: int) -> nn.Module:
    """The faster exact form for a side × side map: relative scores where the dense score matrix [N, N] is at most
    twice the window's r² entries per position (the 16×16 level under a 15×15 window: 2.9× faster in int8 there),
    the convolution form on larger maps (32×32: the dense form was 3.6× slower)."""
    _require_folded(local.norm_q, local.norm_v)
    r = local.pos_conv.kernel_size[0]
    return RelativeScoreLocalLambda(local, side) if side * side <= 2 * r * r else MapLocalLambda(local)


class MapInteractiveLambda(nn.Module):
    """Interactive-λ of the fixed CFG batch on a map: only `to_q` runs on the image; tables and K, V are constants."""

    FP32_CONSTANTS = ("keys", "content_lambda", "values", "position_embedding")

    def __init__(self, folded: FoldedInteractiveLambda):
        super().__init__()
        _require_folded(folded.norm_q)
        self.heads, self.dim_k = folded.heads, folded.dim_k
        self.fp32_lambda = folded.fp32_lambda
        self.to_q = folded.to_q
        # [N, L, dk] → [N, dk, L]: a position's Q [h, dk] times its table gives its scores over the L tokens.
        self.position_embedding = nn.Parameter(folded.position_embedding.detach().transpose(1, 2).contiguous())
        self.position_table = None  # a module returning the table, when a backend stores it another way
        self.register_buffer("keys", folded.keys)  # [B, dk, L] or None
        self.register_buffer("content_lambda", folded.content_lambda)  # [B, dk, dv] or None
        self.register_buffer("values", folded.values.transpose(1, 2).contiguous())  # [B, L, dv]

    def table(self) -> torch.Tensor:
        return self.position_embedding if self.position_table is None else self.position_table()

    def forward(self, x: torch.Tensor, context=None) -> torch.Tensor:
        b, c, h, w = x.shape
        n, dk, heads = h * w, self.dim_k, self.heads
        acc = torch.float32 if self.fp32_lambda else x.dtype
        q = cast(_map_to_tokens(self.to_q(x), b * n, heads, dk), acc)  # [BN, h, dk]
        table = cast(self.table(), acc)
        scores = torch.bmm(q, torch.cat([table] * b) if b > 1 else table).reshape(b, n * heads, -1)  # [B, N·h, L]
        q_rows = q.reshape(b, n * heads, dk)
        if self.keys is not None:
            scores = scores + torch.bmm(q_rows, cast(self.keys, acc))
        y = torch.bmm(scores, cast(self.values, acc))  # [B, N·h, dv]
        if self.content_lambda is not None:
            y = y + torch.bmm(q_rows, cast(self.content_lambda, acc))
        return _tokens_to_map(cast(y, x.dtype), b, h, w)


class MapLambdaBlock(nn.Module):
    """The LλMI block's three pre-LN residual sub-blocks, on the map."""

    def __init__(self, block: LambdaBlock):
        super().__init__()
        side = math.isqrt(block.attn2.position_embedding.shape[0])  # the Interactive-λ table has one row per position
        self.norm1, self.attn1 = ChannelLayerNorm(block.norm1), local_lambda_for(block.attn1, side)
        self.norm2, self.attn2 = ChannelLayerNorm(block.norm2), MapInteractiveLambda(block.attn2)
        self.norm3, self.ff = ChannelLayerNorm(block.norm3), block.ff

    def forward(self, x: torch.Tensor, context=None) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x))
        return x + self.ff(self.norm3(x))


class MapTransformer(nn.Module):
    """Transformer2DModel shell (GroupNorm, 1×1 in, the block, 1×1 out, residual) without the token round trip."""

    def __init__(self, transformer: Transformer):
        super().__init__()
        self.norm, self.proj_in, self.proj_out = transformer.norm, transformer.proj_in, transformer.proj_out
        self.transformer_blocks = nn.ModuleList([MapLambdaBlock(transformer.transformer_blocks[0])])

    def forward(self, x: torch.Tensor, context=None) -> torch.Tensor:
        return self.proj_out(self.transformer_blocks[0](self.proj_in(self.norm(x)))) + x


def lambda_blocks_on_maps(module: nn.Module) -> nn.Module:
    """Swap every Transformer of `module` in place for its map form (after the BatchNorm and context folds)."""
    return swap_modules(module, Transformer, MapTransformer)
