// The inpainting engine behind the C ABI: a bundle's three graphs and the host loop that drives them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bundle_manifest.h"
#include "executorch_graph.h"
#include "moebius_edge.h"
#include "status.h"

namespace moebius {

class Engine {
 public:
  static Status open(const std::string& bundle_dir, uint32_t flags, std::unique_ptr<Engine>& out);

  const BundleManifest& manifest() const { return manifest_; }
  moebius_info info() const;
  const moebius_timings& timings() const { return timings_; }
  const std::vector<double>& step_times_ms() const { return step_times_ms_; }

  size_t image_elements() const { return static_cast<size_t>(manifest_.image_size) * manifest_.image_size; }
  size_t latent_pixels() const { return static_cast<size_t>(manifest_.latent_size) * manifest_.latent_size; }
  size_t latent_elements() const {
    return static_cast<size_t>(manifest_.latent_channels) * manifest_.latent_size * manifest_.latent_size;
  }

  Status encode(const float* image, const float* mask, float* masked_latents, float* mask_latent, float* clean_latents);
  Status step(const float* x, const float* masked_latents, const float* mask_latent, int64_t index, float* next_x);
  Status decode(const float* x, float* image);
  Status inpaint(const uint8_t* rgba, int width, int height, const uint8_t* mask, const float* noise, size_t noise_count,
                 uint64_t seed, uint8_t* out_rgba);

 private:
  Engine() = default;
  std::vector<int32_t> image_shape(int channels) const { return {1, channels, manifest_.image_size, manifest_.image_size}; }
  std::vector<int32_t> latent_shape(int channels) const { return {1, channels, manifest_.latent_size, manifest_.latent_size}; }

  enum Phase { kEncode = 0, kStep = 1, kDecode = 2, kPhases = 3 };
  // The graph of `phase`, loaded now if it is not resident (with MOEBIUS_OPEN_LOAD_IN_TURN, after freeing the others).
  Status graph(Phase phase, ExecutorchGraph*& out);
  Status load_graph(Phase phase);

  BundleManifest manifest_;
  std::string bundle_dir_;
  bool load_in_turn_ = false;
  std::unique_ptr<ExecutorchGraph> graphs_[kPhases];
  moebius_timings timings_{};
  std::vector<double> step_times_ms_;
};

}  // namespace moebius
