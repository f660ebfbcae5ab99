"""Named models: a denoiser config and the VAE it pairs with (kept light: the CLI reads it for --help)."""
import dataclasses
from pathlib import Path
from typing import Optional

# Trained weights shipped inside the package (fp16 safetensors; sources in weights/SOURCES.md).
PACKAGED_WEIGHTS = Path(__file__).resolve().parent / "weights"


@dataclasses.dataclass(frozen=True)
class ModelPreset:
    """A denoiser config plus the VAE it pairs with; `random` means no trained weights ship for it.

    `denoiser_weights` (a file) and `vae` name what ships in PACKAGED_WEIGHTS when `random` is False;
    otherwise `vae` is a VAE architecture preset built with random weights.
    """

    config: str
    vae: str
    random: bool
    denoiser_weights: Optional[str] = None
    notice: Optional[str] = None  # told to the user on every run (e.g. a model still short of its quality bar)
    strength: float = 1.0  # what its runs use unless told otherwise (see InpaintPipeline.default_strength)

    def packaged(self, name: str) -> Path:
        return PACKAGED_WEIGHTS / name


# The models `--model NAME` runs: a MODEL_CONFIGS architecture, a VAE and where the weights come from.
MODEL_PRESETS = {
    "nano": ModelPreset(
        config="nano",
        vae="nano_vae",
        random=False,
        denoiser_weights="nano_denoiser.safetensors",
        # Its hole is pre-filled (edge_sdk.hole_fill), so half the steps from the fill keep the fill's colours
        # and add detail; from pure noise its big-box fills drift to a generic texture.
        strength=0.5,
        notice=(
            "model 'nano' is a small model trained for about 5 hours on a 2-core CPU: it continues the colours around "
            "the hole but not their texture (benchmarks/results/nano_inpainting.md); pass --checkpoint and --vae with "
            "the official weights for full quality"
        ),
    ),
    "tiny": ModelPreset(config="tiny", vae="tiny", random=True),
    "moebius-0.2b": ModelPreset(config="moebius-0.2b", vae="pixelhacker", random=True),
}
# nano beats a mean-colour fill by 2 dB on held-out photos with box and with stroke masks (boxes +2.95 dB,
# strokes +5.66 dB: benchmarks/results/nano_inpainting.md), the bar for the default.
DEFAULT_MODEL = "nano"
OFFICIAL_CONFIG = "moebius-0.2b"

RANDOM_WEIGHTS_NOTICE = (
    "model '{name}' has seeded random weights and a random VAE: its pictures are not meaningful "
    "(pass --checkpoint and --vae with the official weights for real results)"
)
