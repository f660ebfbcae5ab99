"""Named models: a denoiser config and the VAE it pairs with (kept light: the CLI reads it for --help)."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelPreset:
    """A denoiser config plus the VAE it pairs with; `random` means no trained weights ship for it."""

    config: str
    vae: str
    random: bool


MODEL_PRESETS = {
    "tiny": ModelPreset(config="tiny", vae="tiny", random=True),
    "moebius-0.2b": ModelPreset(config="moebius-0.2b", vae="pixelhacker", random=True),
}
DEFAULT_MODEL = "tiny"
OFFICIAL_CONFIG = "moebius-0.2b"

RANDOM_WEIGHTS_NOTICE = (
    "model '{name}' has seeded random weights and a random VAE: its pictures are not meaningful "
    "(pass --checkpoint and --vae with the official weights for real results)"
)
