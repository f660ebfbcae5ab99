"""Constant-fold Interactive-λ's context: the 10 category tokens are fixed per CFG branch (docs/architecture.md).

The context is `encoder_hid_proj(embedding(ids))` for fixed ids, so per batch row the softmaxed keys
K [dk, 10], the BatchNorm1d-normalised values V [dv, 10] and the content lambda λᶜ = K·Vᵀ [dk, dv] are
constants. Per position only Q is image dependent: Y = Σ_k Q·λᶜ + Σ_l (Σ_k Q·E[p, l]) V[l].
Since λᶜ is itself a sum over the 10 tokens, the content term can also share the token axis:

    Y[h, v, p] = Σ_l (Σ_k Q[h,k,p]·(K[k,l] + E[p,l,k]))·V[v,l]

which costs dk·10 instead of dk·dv MACs per head and position; the layer uses whichever is smaller
(the token form whenever dv ≥ 10, i.e. every layer of the 0.2B model). The embedding table,
`encoder_hid_proj`, `to_k`, `to_v`, the BatchNorm1d and the softmax leave the graph.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.passes.swap_modules import swap_modules
from edge_sdk.deploy.precision import cast
from edge_sdk.model import InteractiveLambda


class FoldedInteractiveLambda(nn.Module):
    """Interactive-λ of one fixed CFG batch: only `to_q` (and its BatchNorm) still runs on the image.

    Its constants belong to the batch rows the context was built for (uncond rows first), so the
    layer accepts exactly that batch. `values` [B, dv, L] always; `keys` [B, dk, L] in the token form,
    `content_lambda` [B, dk, dv] otherwise (the other one is None).
    """

    # Kept in fp32 by edge_sdk.deploy.precision when the λ math runs in fp32 islands.
    FP32_CONSTANTS = ("keys", "content_lambda", "values", "position_embedding")

    def __init__(self, attn: InteractiveLambda, context: torch.Tensor):
        super().__init__()
        self.heads, self.dim_k = attn.heads, attn.dim_k
        self.to_q, self.norm_q = attn.to_q, attn.norm_q
        with torch.no_grad():
            keys = attn.to_k(context).transpose(1, 2).softmax(dim=-1)
            values = attn.norm_v(attn.to_v(context).transpose(1, 2))
        dim_v, tokens = values.shape[1:]
        self.content_via_tokens = dim_v >= tokens  # fewer MACs: dk·L instead of dk·dv per head and position
        self.register_buffer("values", values.contiguous())
        self.register_buffer("keys", keys.contiguous() if self.content_via_tokens else None)
        content_lambda = None if self.content_via_tokens else torch.einsum("bkl,bvl->bkv", keys, values)
        self.register_buffer("content_lambda", content_lambda)
        self.position_embedding = nn.Parameter(attn.rel_pos_emb.detach()[..., 0].clone())  # [N, L, dk]
        self.fp32_lambda = False

    def forward(self, x: torch.Tensor, context=None) -> torch.Tensor:
        b, c, h, w = x.shape
        acc = torch.float32 if self.fp32_lambda else x.dtype
        q = cast(self.norm_q(self.to_q(x)).reshape(b, self.heads, self.dim_k, h * w), acc)
        scores = torch.einsum("bhkn,nlk->bhnl", q, cast(self.position_embedding, acc))
        if self.content_via_tokens:
            scores = scores + torch.einsum("bhkn,bkl->bhnl", q, cast(self.keys, acc))
        y = torch.einsum("bhnl,bvl->bhvn", scores, cast(self.values, acc))
        if not self.content_via_tokens:
            y = y + torch.einsum("bhkn,bkv->bhvn", q, cast(self.content_lambda, acc))
        return cast(y, x.dtype).reshape(b, c, h, w)


def fold_interactive_lambda_context(step_denoiser: nn.Module) -> nn.Module:
    """Swap every InteractiveLambda of a StepDenoiser for its folded form and drop the context module."""
    if step_denoiser.context is None:
        return step_denoiser
    with torch.no_grad():
        context = step_denoiser.context()
    swap_modules(step_denoiser, InteractiveLambda, lambda attn: FoldedInteractiveLambda(attn, context))
    step_denoiser.context = None
    return step_denoiser
