"""The Moebius denoiser (the official `RemovalModel`): a 0.22B-parameter LλMI UNet, in one file.

Module names and registration order reproduce the official state dict key for key, so official
checkpoints load with `strict=True`. docs/architecture.md ("The model") describes each part below
under the name its docstring gives.

Shapes: x [B,9,64,64] = [noisy latent 4 | latent mask 1 | masked-image latent 4], a timestep, and
10 category ids per sample (0..9 conditional, 10..19 unconditional) → ε [B,4,64,64].
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edge_sdk.config import MoebiusConfig
from edge_sdk.prediction import epsilon_at_timesteps, needs_conversion

BN_EPS = 1e-5
RESNET_GROUPNORM_EPS = 1e-5
TRANSFORMER_GROUPNORM_EPS = 1e-6  # diffusers' Transformer2DModel default, kept by the official model


class DepthwiseSeparableConv(nn.Module):
    """timm-style DWSep: dw 3×3 → BN → ReLU → pw 1×1 → BN, plus the input when cin == cout."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv_dw = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels, eps=BN_EPS)
        self.conv_pw = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.has_skip = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn2(self.conv_pw(F.relu(self.bn1(self.conv_dw(x)))))
        return h + x if self.has_skip else h


class ResnetBlock(nn.Module):
    """DWResnetBlock2D (the resnet block): the time embedding is a plain shift added between the two convs."""

    def __init__(self, in_channels: int, out_channels: int, time_embed_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=RESNET_GROUPNORM_EPS)
        self.conv1 = DepthwiseSeparableConv(in_channels, out_channels)
        self.time_emb_proj = nn.Linear(time_embed_dim, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=RESNET_GROUPNORM_EPS)
        self.conv2 = DepthwiseSeparableConv(out_channels, out_channels)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return shortcut + h


class LocalLambda(nn.Module):
    """Local-λ, `attn1`: multi-query self-lambda with a 15×15 positional lambda.

    No output projection and no 1/√d scaling, as in the official layer.
    """

    def __init__(self, channels: int, heads: int, window: int):
        super().__init__()
        self.heads, self.dim_k = heads, channels // heads
        self.to_q = nn.Conv2d(channels, channels, 1, bias=False)
        self.to_k = nn.Conv2d(channels, self.dim_k, 1, bias=False)
        self.to_v = nn.Conv2d(channels, self.dim_k, 1, bias=False)
        self.norm_q = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.norm_v = nn.BatchNorm2d(self.dim_k, eps=BN_EPS)
        # Conv3d over [B, 1, dv, H, W]: every value map is filtered by the same bank of dk kernels.
        self.pos_conv = nn.Conv3d(1, self.dim_k, (1, window, window), padding=(0, window // 2, window // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm_q(self.to_q(x)).reshape(b, self.heads, self.dim_k, h * w)
        k = self.to_k(x).reshape(b, self.dim_k, h * w).softmax(dim=-1)
        v = self.norm_v(self.to_v(x))
        content_lambda = torch.einsum("bkn,bvn->bkv", k, v.flatten(2))
        position_lambdas = self.pos_conv(v.unsqueeze(1)).flatten(3)  # [B, dk, dv, N]
        y = torch.einsum("bhkn,bkv->bhvn", q, content_lambda)
        y = y + torch.einsum("bhkn,bkvn->bhvn", q, position_lambdas)
        return y.reshape(b, c, h, w)


class InteractiveLambda(nn.Module):
    """Interactive-λ, `attn2`: multi-query cross-lambda over the 10 context tokens.

    The positional table is indexed by absolute position, so the layer only runs at side × side.
    """

    def __init__(self, channels: int, heads: int, context_dim: int, tokens: int, side: int):
        super().__init__()
        self.heads, self.dim_k = heads, channels // heads
        self.rel_pos_emb = nn.Parameter(torch.zeros(side * side, tokens, self.dim_k, 1))
        self.to_q = nn.Conv2d(channels, channels, 1, bias=False)
        self.to_k = nn.Linear(context_dim, self.dim_k, bias=False)
        self.to_v = nn.Linear(context_dim, self.dim_k, bias=False)
        self.norm_q = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.norm_v = nn.BatchNorm1d(self.dim_k, eps=BN_EPS)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm_q(self.to_q(x)).reshape(b, self.heads, self.dim_k, h * w)
        k = self.to_k(context).transpose(1, 2).softmax(dim=-1)  # [B, dk, L]
        v = self.norm_v(self.to_v(context).transpose(1, 2))  # [B, dv, L]
        content_lambda = torch.einsum("bkl,bvl->bkv", k, v)
        y = torch.einsum("bhkn,bkv->bhvn", q, content_lambda)
        # Positional term, reassociated (docs/architecture.md, Interactive-λ): contract q with the table first, then with V;
        # exact, and 4× fewer MACs than materialising λp [N, dk, dv].
        table = self.rel_pos_emb[..., 0]  # [N, L, dk]
        q_on_table = torch.einsum("bhkn,nlk->bhnl", q, table)
        y = y + torch.einsum("bhnl,bvl->bhvn", q_on_table, v)
        return y.reshape(b, c, h, w)


class ConvLayer(nn.Module):
    """A conv with an optional activation; exists so the keys read `ff.inverted_conv.conv.weight`."""

    def __init__(self, conv: nn.Conv2d, activation: bool):
        super().__init__()
        self.conv = conv
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.silu(x) if self.activation else x


class MixFFN(nn.Module):
    """SANA's GLUMBConv (MixFFN): 1×1 expand + SiLU, depthwise 3×3, gated half, 1×1 project."""

    def __init__(self, channels: int, ratio: float):
        super().__init__()
        hidden = int(ratio * channels)
        self.inverted_conv = ConvLayer(nn.Conv2d(channels, 2 * hidden, 1), activation=True)
        self.depth_conv = ConvLayer(nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden), activation=False)
        self.point_conv = ConvLayer(nn.Conv2d(hidden, channels, 1, bias=False), activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.depth_conv(self.inverted_conv(x)).chunk(2, dim=1)
        return self.point_conv(value * F.silu(gate))


class LambdaBlock(nn.Module):
    """LλMI block: pre-LN residual Local-λ, Interactive-λ, MixFFN on a square token map."""

    def __init__(self, channels: int, config: MoebiusConfig, side: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn1 = LocalLambda(channels, config.heads, config.local_window)
        self.norm2 = nn.LayerNorm(channels)
        self.attn2 = InteractiveLambda(channels, config.heads, config.cross_attention_dim, config.context_tokens, side)
        self.norm3 = nn.LayerNorm(channels)
        self.ff = MixFFN(channels, config.mix_mlp_ratio)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, n, c = tokens.shape
        side = math.isqrt(n)

        def as_map(t):
            return t.transpose(1, 2).reshape(b, c, side, side)

        def as_tokens(m):
            return m.flatten(2).transpose(1, 2)

        tokens = tokens + as_tokens(self.attn1(as_map(self.norm1(tokens))))
        tokens = tokens + as_tokens(self.attn2(as_map(self.norm2(tokens)), context))
        tokens = tokens + as_tokens(self.ff(as_map(self.norm3(tokens))))
        return tokens


class Transformer(nn.Module):
    """diffusers' Transformer2DModel shell around exactly one LλMI block."""

    def __init__(self, channels: int, config: MoebiusConfig, side: int):
        super().__init__()
        self.norm = nn.GroupNorm(config.norm_num_groups, channels, eps=TRANSFORMER_GROUPNORM_EPS)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([LambdaBlock(channels, config, side)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.proj_in(self.norm(x))
        tokens = h.flatten(2).transpose(1, 2)
        tokens = self.transformer_blocks[0](tokens, context)
        h = tokens.transpose(1, 2).reshape(x.shape)
        return self.proj_out(h) + x


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, in_channels, out_channels, config: MoebiusConfig, side: int, downsample: bool):
        super().__init__()
        layers = config.layers_per_block
        # Registration order (attentions before resnets) keeps the official key order.
        self.attentions = nn.ModuleList([Transformer(out_channels, config, side) for _ in range(layers)])
        self.resnets = nn.ModuleList(
            [
                ResnetBlock(in_channels if j == 0 else out_channels, out_channels, config.time_embed_dim, config.norm_num_groups)
                for j in range(layers)
            ]
        )
        self.downsamplers = nn.ModuleList([Downsample(out_channels)]) if downsample else None

    def forward(self, h, temb, context, skips: list):
        for resnet, attention in zip(self.resnets, self.attentions):
            h = attention(resnet(h, temb), context)
            skips.append(h)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            skips.append(h)
        return h


class UpBlock(nn.Module):
    def __init__(self, prev_channels, out_channels, skip_in_channels, config: MoebiusConfig, side: int, upsample: bool):
        super().__init__()
        layers = config.layers_per_block + 1
        self.attentions = nn.ModuleList([Transformer(out_channels, config, side) for _ in range(layers)])
        resnets = []
        for j in range(layers):
            hidden = prev_channels if j == 0 else out_channels
            skip = skip_in_channels if j == layers - 1 else out_channels
            resnets.append(ResnetBlock(hidden + skip, out_channels, config.time_embed_dim, config.norm_num_groups))
        self.resnets = nn.ModuleList(resnets)
        self.upsamplers = nn.ModuleList([Upsample(out_channels)]) if upsample else None

    def forward(self, h, temb, context, skips: list):
        for resnet, attention in zip(self.resnets, self.attentions):
            h = torch.cat([h, skips.pop()], dim=1)
            h = attention(resnet(h, temb), context)
        if self.upsamplers is not None:
            h = self.upsamplers[0](h)
        return h


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


def timestep_sinusoid(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """[cos | sin] of t·f_i with f_i = 10000^(−i/half) (the timestep embedding), computed in fp32: t·f reaches 900 rad."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    angles = timesteps.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class LambdaUNet(nn.Module):
    """The UNet (`diff_model`): 3 down blocks, no mid block, 3 up blocks."""

    def __init__(self, config: MoebiusConfig):
        super().__init__()
        channels = config.block_out_channels
        levels = len(channels)
        self.config = config
        self.conv_in = DepthwiseSeparableConv(config.in_channels, channels[0])
        self.time_embedding = TimestepEmbedding(channels[0], config.time_embed_dim)
        self.encoder_hid_proj = nn.Linear(config.encoder_hid_dim, config.cross_attention_dim)

        sides = [config.sample_size // 2**i for i in range(levels)]
        self.down_blocks = nn.ModuleList(
            [
                DownBlock(channels[max(i - 1, 0)], channels[i], config, sides[i], downsample=i < levels - 1)
                for i in range(levels)
            ]
        )
        up = []
        for i in range(levels):
            level = levels - 1 - i
            prev_channels = channels[min(level + 1, levels - 1)]
            skip_in_channels = channels[max(level - 1, 0)]
            up.append(UpBlock(prev_channels, channels[level], skip_in_channels, config, sides[level], upsample=i < levels - 1))
        self.up_blocks = nn.ModuleList(up)
        self.conv_norm_out = nn.GroupNorm(config.norm_num_groups, channels[0], eps=RESNET_GROUPNORM_EPS)
        self.conv_out = DepthwiseSeparableConv(channels[0], config.out_channels)

    def time_embed(self, timesteps: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.time_embedding(timestep_sinusoid(timesteps, self.config.block_out_channels[0]).to(dtype))

    def forward(self, sample: torch.Tensor, timesteps: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        temb = self.time_embed(timesteps, sample.dtype)
        context = self.encoder_hid_proj(encoder_hidden_states)
        return unet_body(self, sample, temb, context)


def unet_body(unet: nn.Module, sample: torch.Tensor, temb: torch.Tensor, context) -> torch.Tensor:
    """The LλMI UNet after its embeddings: conv_in, the down and up blocks (sharing one skip stack), the output
    head. `unet` is a LambdaUNet or a module holding the same blocks (the deploy step graph)."""
    h = unet.conv_in(sample)
    skips = [h]
    for block in unet.down_blocks:
        h = block(h, temb, context, skips)
    for block in unet.up_blocks:
        h = block(h, temb, context, skips)
    return unet.conv_out(F.silu(unet.conv_norm_out(h)))


class MoebiusDenoiser(nn.Module):
    """The official `RemovalModel`: category-token embedding + the LλMI UNet; returns ε (converted from
    what the network predicts when the config says it predicts something else, see `edge_sdk.prediction`)."""

    def __init__(self, config: MoebiusConfig):
        super().__init__()
        self.config = config
        self.embedding_layer = nn.Embedding(config.num_embeddings, config.encoder_hid_dim)
        self.diff_model = LambdaUNet(config)

    def forward(self, noisy_latents: torch.Tensor, timesteps, input_ids: torch.Tensor) -> torch.Tensor:
        batch = noisy_latents.shape[0]
        timesteps = torch.as_tensor(timesteps, device=noisy_latents.device).reshape(-1).expand(batch)
        output = self.diff_model(noisy_latents, timesteps, self.embedding_layer(input_ids))
        if needs_conversion(self.config):
            return epsilon_at_timesteps(output, noisy_latents, timesteps, self.config)
        return output


def category_ids(conditional: bool, tokens: int = 10, device=None) -> torch.Tensor:
    """The 10 category ids of one CFG branch: 0..9 conditional, 10..19 unconditional; [1, 10] int64."""
    start = 0 if conditional else tokens
    return torch.arange(start, start + tokens, dtype=torch.int64, device=device)[None]


def cfg_input_ids(batch: int = 1, tokens: int = 10, device=None) -> torch.Tensor:
    """Ids of a CFG batch as the official pipeline builds it: unconditional rows first, then conditional."""
    return torch.cat(
        [category_ids(False, tokens, device).expand(batch, -1), category_ids(True, tokens, device).expand(batch, -1)]
    )
