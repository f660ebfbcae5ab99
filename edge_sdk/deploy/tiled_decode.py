"""Tiled decode: the decode graph run on overlapping latent tiles, blended into the whole image.

The decode graph's working memory grows with its input's area (about 1.2 GB of activations for a 64×64 latent
of the 0.2B model's VAE on XNNPACK), so a bundle may carry a decode graph for a tile instead, and the host runs
it tile by tile. The VAE's GroupNorms and mid-block attention see one tile at a time, so the result is not the
whole decode exactly: neighbouring tiles overlap and are blended with linear ramps, and the export measures
the remaining seam error (docs/architecture.md, "Tiled decode").

The arithmetic below is the contract the C++ runtime repeats (`bindings/cpp/src/tiled_decode.cpp`): float32,
tiles in row-major order, each blended as `acc += w·tile`, `weights += w`, and the image is `acc / weights`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import torch


@dataclasses.dataclass(frozen=True)
class DecodeTiling:
    tile: int  # latent side of one tile
    overlap: int  # latents shared by neighbouring tiles

    def check(self, latent_size: int) -> None:
        """A ValueError (one line) unless 0 < overlap < tile < latent_size."""
        if not 0 < self.overlap < self.tile < latent_size:
            raise ValueError(
                f"decode tiling needs 0 < overlap < tile < latent size ({latent_size}); got tile {self.tile}, overlap {self.overlap}"
            )

    def origins(self, latent_size: int) -> list[int]:
        """Tile origins along one axis: every `tile − overlap` latents, the last one flush with the edge."""
        origins, position = [], 0
        while True:
            origin = min(position, latent_size - self.tile)
            origins.append(origin)
            if origin == latent_size - self.tile:
                return origins
            position += self.tile - self.overlap

    def pixel_weights(self, origin: int, latent_size: int, scale: int) -> torch.Tensor:
        """Blend weights of one tile's pixels along one axis: ramps over the overlap where a neighbour lies."""
        pixels, ramp = self.tile * scale, float(self.overlap * scale)
        index = torch.arange(pixels, dtype=torch.float32)
        weights = torch.ones(pixels)
        if origin > 0:
            weights = torch.minimum(weights, (index + 0.5) / ramp)
        if origin + self.tile < latent_size:
            weights = torch.minimum(weights, (pixels - index - 0.5) / ramp)
        return weights

    def tiles(self, latents: torch.Tensor) -> list[tuple[int, int, torch.Tensor]]:
        """(row origin, column origin, latent tile) of `latents` [1,C,L,L], in the order they are blended."""
        self.check(latents.shape[-1])
        origins = self.origins(latents.shape[-1])
        return [(oy, ox, latents[..., oy : oy + self.tile, ox : ox + self.tile].contiguous()) for oy in origins for ox in origins]

    def decode(self, decode_tile: Callable[[torch.Tensor], torch.Tensor], latents: torch.Tensor) -> torch.Tensor:
        """latents [1,C,L,L] → image [1,3,L·s,L·s], with `decode_tile` mapping [1,C,tile,tile] → [1,3,tile·s,tile·s]."""
        latent_size = latents.shape[-1]
        image = weights_sum = None
        for oy, ox, latent_tile in self.tiles(latents):
            tile = decode_tile(latent_tile).float()
            if image is None:
                scale = tile.shape[-1] // self.tile
                side = latent_size * scale
                image = torch.zeros(*tile.shape[:-2], side, side)
                weights_sum = torch.zeros(side, side)
                axis = {origin: self.pixel_weights(origin, latent_size, scale) for origin in self.origins(latent_size)}
            weights = axis[oy][:, None] * axis[ox][None, :]
            rows, cols = slice(oy * scale, oy * scale + tile.shape[-2]), slice(ox * scale, ox * scale + tile.shape[-1])
            image[..., rows, cols] += weights * tile
            weights_sum[rows, cols] += weights
        return image / weights_sum

    def to_dict(self) -> dict:
        return {"tile": self.tile, "overlap": self.overlap}

    @classmethod
    def from_dict(cls, value: Optional[dict]) -> Optional["DecodeTiling"]:
        if value is None:
            return None
        return cls(tile=int(value["tile"]), overlap=int(value["overlap"]))


def decode_maybe_tiled(decode: Callable[[torch.Tensor], torch.Tensor], latents: torch.Tensor, tiling: Optional[DecodeTiling]) -> torch.Tensor:
    """`decode(latents)`, or through `tiling` when the decode graph takes tiles."""
    return decode(latents) if tiling is None else tiling.decode(decode, latents)
