"""Scaled dot-product attention (the VAE's mid-block attention) as bmm → softmax → bmm.

The default decomposition guards fully masked rows with any/where/logical_not, which XNNPACK does not
take; without a mask (the VAE passes none) softmax(q·kᵀ·scale)·v is the whole computation.
"""
from __future__ import annotations

import math

import torch

aten = torch.ops.aten


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if attn_mask is not None or is_causal or dropout_p != 0.0 or enable_gqa or q.shape[:-2] != k.shape[:-2]:
        return NotImplemented
    *batch, tokens, dim = q.shape
    flat = math.prod(batch)
    scale = scale if scale is not None else 1.0 / math.sqrt(dim)
    q3 = q.reshape(flat, tokens, dim) * scale
    k3 = k.reshape(flat, k.shape[-2], dim)
    v3 = v.reshape(flat, v.shape[-2], v.shape[-1])
    weights = torch.bmm(q3, k3.transpose(1, 2)).softmax(dim=-1)
    return torch.bmm(weights, v3).reshape(*batch, tokens, v.shape[-1])


DECOMPOSITIONS = {aten.scaled_dot_product_attention.default: scaled_dot_product_attention}
