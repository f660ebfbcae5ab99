#include "tiled_decode.h"

#include <algorithm>
#include <cstring>

namespace moebius {

std::string check_decode_tiling(const DecodeTiling& tiling, int latent_size) {
  if (0 < tiling.overlap && tiling.overlap < tiling.tile && tiling.tile < latent_size) return "";
  return "decode tiling needs 0 < overlap < tile < latent size (" + std::to_string(latent_size) + "); got tile " +
         std::to_string(tiling.tile) + ", overlap " + std::to_string(tiling.overlap);
}

std::vector<int> decode_tile_origins(const DecodeTiling& tiling, int latent_size) {
  std::vector<int> origins;
  const int last = latent_size - tiling.tile;
  for (int position = 0;; position += tiling.tile - tiling.overlap) {
    origins.push_back(std::min(position, last));
    if (origins.back() == last) return origins;
  }
}

std::vector<float> decode_tile_weights(const DecodeTiling& tiling, int origin, int latent_size, int scale) {
  const int pixels = tiling.tile * scale;
  const float ramp = static_cast<float>(tiling.overlap * scale);
  std::vector<float> weights(pixels, 1.0f);
  for (int i = 0; i < pixels; ++i) {
    if (origin > 0) weights[i] = std::min(weights[i], (static_cast<float>(i) + 0.5f) / ramp);
    if (origin + tiling.tile < latent_size) weights[i] = std::min(weights[i], (static_cast<float>(pixels - i) - 0.5f) / ramp);
  }
  return weights;
}

Status decode_tiled(const DecodeTiling& tiling, int channels, int latent_size, int scale, const float* latents, float* image,
                    const DecodeTileFunction& decode_tile) {
  std::string problem = check_decode_tiling(tiling, latent_size);
  if (!problem.empty()) return Status::Error(MOEBIUS_ERROR_BAD_MANIFEST, problem);
  const int tile = tiling.tile, pixels = tile * scale, side = latent_size * scale;
  const size_t plane = static_cast<size_t>(side) * side, tile_plane = static_cast<size_t>(pixels) * pixels;
  const std::vector<int> origins = decode_tile_origins(tiling, latent_size);
  std::vector<std::vector<float>> axis_weights;
  for (int origin : origins) axis_weights.push_back(decode_tile_weights(tiling, origin, latent_size, scale));

  std::vector<float> latent_tile(static_cast<size_t>(channels) * tile * tile), image_tile(3 * tile_plane);
  std::fill(image, image + 3 * plane, 0.0f);  // the accumulator
  for (size_t ky = 0; ky < origins.size(); ++ky) {
    for (size_t kx = 0; kx < origins.size(); ++kx) {
      const int oy = origins[ky], ox = origins[kx];
      for (int c = 0; c < channels; ++c) {
        for (int y = 0; y < tile; ++y) {
          const float* row = latents + (static_cast<size_t>(c) * latent_size + oy + y) * latent_size + ox;
          std::memcpy(&latent_tile[(static_cast<size_t>(c) * tile + y) * tile], row, tile * sizeof(float));
        }
      }
      Status status = decode_tile(latent_tile.data(), image_tile.data());
      if (!status.ok()) return status;
      const std::vector<float>& wy = axis_weights[ky];
      const std::vector<float>& wx = axis_weights[kx];
      for (int c = 0; c < 3; ++c) {
        for (int y = 0; y < pixels; ++y) {
          float* out = image + c * plane + static_cast<size_t>(oy * scale + y) * side + ox * scale;
          const float* in = &image_tile[c * tile_plane + static_cast<size_t>(y) * pixels];
          for (int x = 0; x < pixels; ++x) {
            const float weight = wy[y] * wx[x];
            out[x] += weight * in[x];
          }
        }
      }
    }
  }

  // The weight sum of each pixel, recomputed rather than stored (one float per pixel saved): per axis coordinate,
  // the weights of the tiles covering it in origin order, so the sum adds them in the tiles' order, as Python's does.
  std::vector<std::vector<float>> covering(side);
  for (size_t k = 0; k < origins.size(); ++k) {
    for (int i = 0; i < pixels; ++i) covering[origins[k] * scale + i].push_back(axis_weights[k][i]);
  }
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      float sum = 0.0f;
      for (float wy : covering[y]) {
        for (float wx : covering[x]) sum += wy * wx;
      }
      for (int c = 0; c < 3; ++c) image[c * plane + static_cast<size_t>(y) * side + x] /= sum;
    }
  }
  return Status::Ok();
}

}  // namespace moebius
