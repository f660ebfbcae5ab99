"""Model configuration: the official Moebius YAML format and the named presets."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Union

import yaml

from edge_sdk.errors import ConfigError
from edge_sdk.hole_fill import HOLE_FILLS
from edge_sdk.prediction import PREDICTION_TYPES

# The one UNet variant the official code builds for Moebius; other values are other models.
OFFICIAL_MODEL_TYPE = "UNet2DLambdaDWConvMixFFNConditionModel_prune_down_mid_up_block_8x8"


@dataclasses.dataclass(frozen=True)
class MoebiusConfig:
    """Architecture hyper-parameters of the Moebius LλMI denoiser.

    Field names follow the official YAML; derived sizes are properties.
    """

    block_out_channels: tuple[int, ...] = (320, 640, 1280)
    in_channels: int = 9
    out_channels: int = 4
    heads: int = 8  # the YAML calls it attention_head_dim (a diffusers naming quirk): it is the head count
    cross_attention_dim: int = 768
    encoder_hid_dim: int = 3072
    num_embeddings: int = 20  # 10 conditional + 10 unconditional category tokens
    image_size: int = 512
    downsample_ratio: int = 8
    layers_per_block: int = 2
    norm_num_groups: int = 32
    mix_mlp_ratio: float = 2.5
    local_window: int = 15  # Local-λ positional kernel size r
    # Not in the official model (ε, no override, zeroed hole): see edge_sdk.prediction and
    # edge_sdk.hole_fill. Written to YAML only when set.
    prediction_type: str = "epsilon"
    keep_known_latents: bool = False
    hole_fill: str = "zero"

    def __post_init__(self):
        object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        if self.prediction_type not in PREDICTION_TYPES:
            raise ConfigError(f"prediction_type {self.prediction_type!r}: use one of {', '.join(PREDICTION_TYPES)}")
        if self.hole_fill not in HOLE_FILLS:
            raise ConfigError(f"hole_fill {self.hole_fill!r}: use one of {', '.join(HOLE_FILLS)}")
        for c in self.block_out_channels:
            if c % self.norm_num_groups or c % self.heads:
                raise ConfigError(
                    f"block_out_channels {list(self.block_out_channels)}: every entry must be a multiple of "
                    f"{self.norm_num_groups} (GroupNorm groups) and {self.heads} (heads)"
                )

    @property
    def sample_size(self) -> int:
        """Side of the latent the position tables are built for (64 for 512² images)."""
        return self.image_size // self.downsample_ratio

    @property
    def context_tokens(self) -> int:
        return self.num_embeddings // 2

    @property
    def time_embed_dim(self) -> int:
        return self.block_out_channels[0] * 4

    @classmethod
    def from_yaml(cls, path: Union[str, Path]) -> "MoebiusConfig":
        path = Path(path)
        try:
            document = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        return cls.from_dict(document, source=str(path))

    @classmethod
    def from_dict(cls, document: dict, source: str = "config") -> "MoebiusConfig":
        if not isinstance(document, dict) or not isinstance(document.get("model"), dict):
            raise ConfigError(f"{source}: not a Moebius config (no 'model' section)")
        model = document["model"]
        model_type = model.get("model_type", OFFICIAL_MODEL_TYPE)
        if model_type != OFFICIAL_MODEL_TYPE:
            raise ConfigError(f"{source}: model_type {model_type!r} is not the Moebius UNet ({OFFICIAL_MODEL_TYPE})")
        if model.get("mid_block_type") is not None:
            raise ConfigError(f"{source}: Moebius has no mid block (mid_block_type must be null)")
        if "block_out_channels" not in model:
            raise ConfigError(f"{source}: model.block_out_channels is missing")
        data = document.get("data") or {}
        vae = document.get("vae") or {}
        try:
            return cls(
                block_out_channels=tuple(model["block_out_channels"]),
                in_channels=int(model.get("in_channels", 9)),
                out_channels=int(model.get("out_channels", 4)),
                heads=int(model.get("attention_head_dim", 8)),
                cross_attention_dim=int(model.get("cross_attention_dim", 768)),
                encoder_hid_dim=int(model.get("encoder_hid_dim", 3072)),
                image_size=int(data.get("image_size", 512)),
                downsample_ratio=int(vae.get("downsample_ratio", 8)),
                mix_mlp_ratio=float(model.get("mix_mlp_ratio", 2.5)),
                prediction_type=str(model.get("prediction_type", "epsilon")),
                keep_known_latents=bool(model.get("keep_known_latents", False)),
                hole_fill=str(data.get("hole_fill", "zero")),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: bad value in model section: {exc}") from None

    def to_dict(self) -> dict:
        """The official YAML layout, so a written config loads in the official code too (unless it sets
        the SDK-only output options, which the official code has no use for)."""
        document = {
            "data": {"image_size": self.image_size},
            "vae": {"downsample_ratio": self.downsample_ratio, "embed_dim": 4},
            "model": {
                "model_type": OFFICIAL_MODEL_TYPE,
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "attention_head_dim": self.heads,
                "cross_attention_dim": self.cross_attention_dim,
                "encoder_hid_dim": self.encoder_hid_dim,
                "encoder_hid_dim_type": "text_proj",
                "use_lambda_cross_attn": True,
                "use_local_self_attn": True,
                "down_block_types": ["DWMixTFDownBlock2D"] * len(self.block_out_channels),
                "mid_block_type": None,
                "up_block_types": ["DWMixTFUpBlock2D"] * len(self.block_out_channels),
                "block_out_channels": list(self.block_out_channels),
                "mix_mlp_ratio": self.mix_mlp_ratio,
            },
        }
        if self.prediction_type != "epsilon":
            document["model"]["prediction_type"] = self.prediction_type
        if self.keep_known_latents:
            document["model"]["keep_known_latents"] = True
        if self.hole_fill != "zero":
            document["data"]["hole_fill"] = self.hole_fill
        return document


# Denoiser architectures by name. A named model to run (config + VAE + weights) is a MODEL_PRESETS entry
# (edge_sdk.presets); VAE architectures are VAE_CONFIGS (edge_sdk.vae).
MODEL_CONFIGS: dict[str, MoebiusConfig] = {
    "moebius-0.2b": MoebiusConfig(block_out_channels=(320, 640, 1280)),
    "tiny": MoebiusConfig(block_out_channels=(32, 64, 128)),
    # The trained default: tiny's widths with a narrow category context (it is constant per CFG branch,
    # so 3072/768 wide embeddings would only add 2.4M parameters).
    # It predicts v and takes the known region from the masked latents (edge_sdk.prediction): a small,
    # briefly trained model that predicted ε drifted off the known region and mis-coloured its fills.
    # Its encoder sees the hole pre-filled from the surroundings (edge_sdk.hole_fill): it could not carry
    # colour into the middle of a big box on its own.
    "nano": MoebiusConfig(
        block_out_channels=(32, 64, 128),
        cross_attention_dim=128,
        encoder_hid_dim=256,
        prediction_type="v_prediction",
        keep_known_latents=True,
        hole_fill="pyramid",
    ),
}


def resolve_config(config: Union[str, Path, MoebiusConfig, None]) -> MoebiusConfig:
    """A preset name, a YAML path or a config object → a config object."""
    if isinstance(config, MoebiusConfig):
        return config
    if config is None:
        raise ConfigError(f"no model config given: pass a preset ({', '.join(MODEL_CONFIGS)}) or a YAML path")
    if isinstance(config, str) and config in MODEL_CONFIGS:
        return MODEL_CONFIGS[config]
    path = Path(config)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return MoebiusConfig.from_yaml(path)
    raise ConfigError(f"unknown model {config!r}: use a preset ({', '.join(MODEL_CONFIGS)}) or a YAML config path")


def preset_for_channels(block_out_channels) -> str | None:
    """The preset name whose channel widths match, for error messages that say which config fits."""
    for name, preset in MODEL_CONFIGS.items():
        if preset.block_out_channels == tuple(block_out_channels):
            return name
    return None
