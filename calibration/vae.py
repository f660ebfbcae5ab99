"""int8 VAE graphs: what they are calibrated on, and how far they drift from fp32 on photos they never saw.

The bundled sample photos are split: the first `HELD_OUT` are only measured on (sample 0 is also the bundle's
test vector), the rest calibrate.

- encode sees (image, mask) pairs, as an inpaint feeds it;
- decode sees latents like a finished run's: the posterior mean of each whole photo (what a denoised latent
  resembles) and the encode graph's masked latents (a hole zeroed or filled), cut into tiles where the decode
  graph takes tiles.

Drift (`vae_drift`), per held-out photo and reported as the worst one:
- `decode_psnr_db`: the int8 decode of the photo's fp32 latents against the fp32 decode of the same latents;
- `round_trip_psnr_db`: the whole picture through int8 encode and int8 decode against fp32 encode and decode;
- `encode_relative_error`: the int8 encode's masked latents against the fp32 ones (the step graph's input).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import torch

from edge_sdk.image_metrics import psnr, relative_error

HELD_OUT = 2

Encode = Callable[[torch.Tensor, torch.Tensor], Sequence[torch.Tensor]]  # (image, mask) → (masked_latents, ...)
Decode = Callable[[torch.Tensor], torch.Tensor]  # latents → image in [0, 1]


@dataclasses.dataclass(frozen=True)
class VaeSamples:
    encode: list[tuple[torch.Tensor, torch.Tensor]]  # (image [1,3,S,S] in [−1,1], mask [1,1,S,S])
    decode: list[tuple[torch.Tensor]]  # (latents [1,4,s,s],)


def photos(graphs, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The bundled samples `indices` at the model's size, as the encode graph takes them."""
    from edge_sdk.samples import sample_square

    return [sample_square(index, graphs.config.image_size) for index in indices]


def whole_photo(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode inputs of a photo without a hole: the encode graph then gives the whole photo's latents."""
    return image, torch.zeros_like(image[:, :1])


@torch.no_grad()
def calibration_samples(graphs) -> VaeSamples:
    """Encode and decode inputs from every bundled photo after the held-out ones."""
    from edge_sdk.samples import sample_pairs

    pairs = photos(graphs, range(HELD_OUT, len(sample_pairs())))
    decode = []
    for image, mask in pairs:
        for latents in (graphs.encode(*whole_photo(image))[0], graphs.encode(image, mask)[0]):
            decode.extend(decode_graph_inputs(graphs, latents))
    return VaeSamples(encode=pairs, decode=decode)


def decode_graph_inputs(graphs, latents: torch.Tensor) -> list[tuple[torch.Tensor]]:
    """What the decode graph is fed for these whole latents: themselves, or their tiles in a tiled decode."""
    if graphs.decode_tiling is None:
        return [(latents,)]
    return [(tile,) for _, _, tile in graphs.decode_tiling.tiles(latents)]


@dataclasses.dataclass(frozen=True)
class HeldOutPhoto:
    """A held-out photo and what the fp32 deploy graphs make of it."""

    image: torch.Tensor
    mask: torch.Tensor
    latents: torch.Tensor  # the whole photo's latents
    masked_latents: torch.Tensor  # with its hole, as the step graph gets them
    decoded: torch.Tensor  # `latents` decoded, in [0, 1]


@torch.no_grad()
def held_out_photos(graphs) -> list[HeldOutPhoto]:
    out = []
    for image, mask in photos(graphs, range(HELD_OUT)):
        latents = graphs.encode(*whole_photo(image))[0]
        out.append(HeldOutPhoto(image, mask, latents, graphs.encode(image, mask)[0], graphs.decode(latents)))
    return out


@torch.no_grad()
def vae_drift(graphs, encode: Encode, decode: Decode, held_out: Optional[list[HeldOutPhoto]] = None) -> dict:
    """How far `encode` and `decode` (a runner's, or any graphs called like the deploy graphs) are from the
    fp32 deploy graphs on the held-out photos (`held_out`: `held_out_photos(graphs)`, computed once for several
    measurements): the worst photo's numbers (see the module's docstring)."""
    held_out = held_out_photos(graphs) if held_out is None else held_out
    decode_psnr, round_trip_psnr, encode_error = [], [], []
    for photo in held_out:
        decode_psnr.append(psnr(decode(photo.latents), photo.decoded))
        round_trip_psnr.append(psnr(decode(encode(*whole_photo(photo.image))[0]), photo.decoded))
        encode_error.append(relative_error(encode(photo.image, photo.mask)[0], photo.masked_latents))
    return {
        "decode_psnr_db": round(min(decode_psnr), 2),
        "round_trip_psnr_db": round(min(round_trip_psnr), 2),
        "encode_relative_error": float(f"{max(encode_error):.3g}"),
        "held_out_photos": len(held_out),
    }
