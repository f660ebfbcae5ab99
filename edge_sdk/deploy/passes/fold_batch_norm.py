"""Fold every eval-mode BatchNorm into the conv or linear layer that feeds it (docs/architecture.md).

BN(y) = (y − μ)·γ/√(σ²+ε) + β is affine per output channel, so W' = W·s and b' = (b − μ)·s + β with
s = γ/√(σ²+ε). The fold is done in float64 and cast back, and the BatchNorm slot becomes an
`nn.Identity`, so the modules' forward code is unchanged and no `batch_norm` op is exported.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_sdk.deploy.passes.fold_interactive_lambda_context import FoldedInteractiveLambda
from edge_sdk.deploy.passes.local_lambda_conv3d_to_conv2d import LocalLambdaConv2d
from edge_sdk.model import DepthwiseSeparableConv, InteractiveLambda, LocalLambda

# (producer, BatchNorm) attribute pairs per module type. Every pair is a layer directly followed by
# its BN with nothing in between; a DWSep's inner skip is added after bn2, so it stays outside.
FOLD_PAIRS: dict[type, tuple[tuple[str, str], ...]] = {
    DepthwiseSeparableConv: (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    LocalLambda: (("to_q", "norm_q"), ("to_v", "norm_v")),
    LocalLambdaConv2d: (("to_q", "norm_q"), ("to_v", "norm_v")),
    # norm_v is a BatchNorm1d over the Linear's output features (V laid out as [B, dv, tokens]).
    InteractiveLambda: (("to_q", "norm_q"), ("to_v", "norm_v")),
    FoldedInteractiveLambda: (("to_q", "norm_q"),),
}


@torch.no_grad()
def fold_into(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """A copy of `layer` (Conv2d or Linear) that also applies `bn` to its output channels."""
    if bn.training or not bn.track_running_stats:
        raise ValueError("only an eval-mode BatchNorm with running statistics can be folded")
    if not isinstance(layer, (nn.Conv2d, nn.Linear)) or layer.weight.shape[0] != bn.num_features:
        raise ValueError(f"cannot fold BatchNorm({bn.num_features}) into {layer}")
    dtype = layer.weight.dtype
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(scale)
    weight = layer.weight.double() * scale.reshape(-1, *([1] * (layer.weight.dim() - 1)))
    fused_bias = (bias - bn.running_mean.double()) * scale + bn.bias.double()

    if isinstance(layer, nn.Conv2d):
        fused = nn.Conv2d(
            layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride, padding=layer.padding,
            dilation=layer.dilation, groups=layer.groups, bias=True, padding_mode=layer.padding_mode,
            device=layer.weight.device, dtype=dtype,
        )
    else:
        fused = nn.Linear(layer.in_features, layer.out_features, bias=True, device=layer.weight.device, dtype=dtype)
    fused.weight.copy_(weight.to(dtype))
    fused.bias.copy_(fused_bias.to(dtype))
    return fused.eval()


def fold_batch_norm(module: nn.Module) -> nn.Module:
    """Fold all BatchNorms of `module` in place; raise if one is left that no known pattern covers."""
    for owner in list(module.modules()):
        for layer_name, bn_name in FOLD_PAIRS.get(type(owner), ()):
            bn = getattr(owner, bn_name)
            if isinstance(bn, nn.Identity):  # already folded
                continue
            setattr(owner, layer_name, fold_into(getattr(owner, layer_name), bn))
            setattr(owner, bn_name, nn.Identity())
    left = [name for name, m in module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if left:
        raise ValueError(f"{len(left)} BatchNorm layers have no fold pattern, e.g. {left[0]}")
    return module
