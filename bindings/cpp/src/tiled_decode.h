// Tiled decode: the decode graph run on overlapping latent tiles, blended into the whole image.
//
// The arithmetic is edge_sdk/deploy/tiled_decode.py's (DecodeTiling), repeated in float32 and in the same order
// so the C++ picture equals the Python runner's: tiles in row-major order, acc += w·tile, weights += w, then
// image = acc / weights.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "status.h"

namespace moebius {

struct DecodeTiling {
  int tile = 0;     // latent side of one tile; 0: the decode graph takes the whole latent
  int overlap = 0;  // latents shared by neighbouring tiles

  bool enabled() const { return tile > 0; }
};

// Empty when 0 < overlap < tile < latent_size, else the reason (one line).
std::string check_decode_tiling(const DecodeTiling& tiling, int latent_size);

// Tile origins along one axis: every tile − overlap latents, the last one flush with the edge.
std::vector<int> decode_tile_origins(const DecodeTiling& tiling, int latent_size);

// Blend weights of the tile * scale pixels of a tile at `origin` along one axis: linear ramps over the overlap
// on each side where a neighbouring tile lies, 1 elsewhere.
std::vector<float> decode_tile_weights(const DecodeTiling& tiling, int origin, int latent_size, int scale);

// Maps one latent tile [1, C, tile, tile] to its image tile [1, 3, tile*scale, tile*scale].
using DecodeTileFunction = std::function<Status(const float* latent_tile, float* image_tile)>;

// Decodes latents [1, channels, L, L] into image [1, 3, L*scale, L*scale] tile by tile. The image buffer doubles
// as the accumulator, so besides it only one latent tile and one image tile are held.
Status decode_tiled(const DecodeTiling& tiling, int channels, int latent_size, int scale, const float* latents, float* image,
                    const DecodeTileFunction& decode_tile);

}  // namespace moebius
