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

    def packaged(self, name: str) -> Path:
        return PACKAGED_WEIGHTS / name


MODEL_PRESETS = {
    "nano": ModelPreset(
        config="nano",
        vae="nano_vae",
        random=False,
        denoiser_weights="nano_denoiser.safetensors",
        notice=(
            "model 'nano' is still undertrained (about 3 hours on a 2-core CPU): on held-out photos it beats a "
            "mean-colour fill by 3.6 dB in brush strokes but only 0.5 dB in large boxes, which it fills with a generic "
            "texture (benchmarks/results/nano_inpainting.md)"
        ),
    ),
    "tiny": ModelPreset(config="tiny", vae="tiny", random=True),
    "moebius-0.2b": ModelPreset(config="moebius-0.2b", vae="pixelhacker", random=True),
}
# Becomes "nano" once nano beats a mean-colour fill by 2 dB on held-out photos with box and with stroke masks
# (so far: strokes +3.6 dB, boxes +0.5 dB) and fills the bundled samples with recognisable scenery.
DEFAULT_MODEL = "tiny"
OFFICIAL_CONFIG = "moebius-0.2b"

RANDOM_WEIGHTS_NOTICE = (
    "model '{name}' has seeded random weights and a random VAE: its pictures are not meaningful "
    "(pass --checkpoint and --vae with the official weights for real results)"
)
