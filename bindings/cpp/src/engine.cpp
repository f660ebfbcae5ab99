#include "engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "paste_back.h"
#include "seeded_noise.h"
#include "sha256.h"
#include "thread_count.h"
#include "tiled_decode.h"

namespace moebius {
namespace {

constexpr uint8_t kHoleThreshold = 128;  // Python: a mask pixel is a hole when >= 127.5

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool file_exists(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return stream.good();
}

}  // namespace

Status Engine::open(const std::string& bundle_dir, uint32_t flags, std::unique_ptr<Engine>& out) {
  auto start = Clock::now();
  std::unique_ptr<Engine> engine(new Engine());
  Status status = read_manifest(bundle_dir, engine->manifest_);
  if (!status.ok()) return status;
  const BundleManifest& manifest = engine->manifest_;
  for (const char* name : {"encode", "step", "decode"}) {
    const GraphEntry& entry = manifest.graphs.at(name);
    std::string path = bundle_dir + "/" + entry.file;
    if (!file_exists(path)) return Status::Error(MOEBIUS_ERROR_NOT_FOUND, std::string(name) + " graph not found: " + path);
    if (!(flags & MOEBIUS_OPEN_SKIP_CHECKSUMS) && !entry.sha256.empty()) {
      std::string digest, error;
      if (!sha256_file(path, digest, error)) return Status::Error(MOEBIUS_ERROR_NOT_FOUND, error);
      if (digest != entry.sha256) {
        return Status::Error(MOEBIUS_ERROR_CORRUPT_BUNDLE, entry.file + " is damaged or was replaced: its SHA-256 is " + digest.substr(0, 12) +
                                                               "…, the manifest says " + entry.sha256.substr(0, 12) + "…");
      }
    }
  }
  const uint32_t threads = (flags >> 8) & 0xffu;  // MOEBIUS_OPEN_THREADS(n)
  if (threads != 0 && !set_runtime_threads(threads)) {
    return Status::Error(MOEBIUS_ERROR_RUNTIME, "ExecuTorch's thread pool could not be resized to " + std::to_string(threads) + " threads");
  }
  engine->bundle_dir_ = bundle_dir;
  engine->load_in_turn_ = (flags & MOEBIUS_OPEN_LOAD_IN_TURN) != 0;
  // Every graph is loaded once here, so a bundle that cannot run fails at open; in turn, encode (the first used) stays.
  for (Phase phase : {kDecode, kStep, kEncode}) {
    status = engine->load_graph(phase);
    if (!status.ok()) return status;
  }
  engine->timings_.open_ms = milliseconds_since(start);
  out = std::move(engine);
  return Status::Ok();
}

Status Engine::load_graph(Phase phase) {
  static const char* const kNames[kPhases] = {"encode", "step", "decode"};
  const size_t inputs[kPhases] = {2, 4, 1};
  const size_t outputs[kPhases] = {manifest_.starts_from_noise() ? size_t{2} : size_t{3}, 1, 1};
  if (load_in_turn_) {
    for (auto& resident : graphs_) resident.reset();  // freed before the next one loads: never two at once
  }
  const char* name = kNames[phase];
  return ExecutorchGraph::load(name, bundle_dir_ + "/" + manifest_.graphs.at(name).file, inputs[phase], outputs[phase], graphs_[phase]);
}

Status Engine::graph(Phase phase, ExecutorchGraph*& out) {
  if (!graphs_[phase]) {
    Status status = load_graph(phase);
    if (!status.ok()) return status;
  }
  out = graphs_[phase].get();
  return Status::Ok();
}

moebius_info Engine::info() const {
  moebius_info info{};
  info.image_size = manifest_.image_size;
  info.latent_size = manifest_.latent_size;
  info.latent_channels = manifest_.latent_channels;
  info.steps = manifest_.steps;
  info.strength = manifest_.strength;
  info.guidance_scale = manifest_.guidance_scale;
  info.backend = manifest_.backend.c_str();
  info.precision = manifest_.precision.c_str();
  info.model = manifest_.model.c_str();
  info.start_signal = manifest_.start_signal;
  info.start_noise = manifest_.start_noise;
  return info;
}

Status Engine::encode(const float* image, const float* mask, float* masked_latents, float* mask_latent, float* clean_latents) {
  std::vector<HostTensor> inputs = {{HostTensor::Type::Float32, image_shape(3), image, nullptr},
                                    {HostTensor::Type::Float32, image_shape(1), mask, nullptr}};
  std::vector<HostTensor> outputs = {{HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), nullptr, masked_latents},
                                     {HostTensor::Type::Float32, latent_shape(1), nullptr, mask_latent}};
  if (!manifest_.starts_from_noise()) {
    if (clean_latents == nullptr) return Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, "strength < 1: encode needs a clean_latents buffer");
    outputs.push_back({HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), nullptr, clean_latents});
  }
  ExecutorchGraph* encode_graph = nullptr;
  Status status = graph(kEncode, encode_graph);
  return status.ok() ? encode_graph->run(inputs, outputs) : status;
}

Status Engine::step(const float* x, const float* masked_latents, const float* mask_latent, int64_t index, float* next_x) {
  if (index < 0 || index >= manifest_.steps) {
    return Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT,
                         "step index " + std::to_string(index) + " is outside [0, " + std::to_string(manifest_.steps) + ")");
  }
  int64_t index_value = index;
  std::vector<HostTensor> inputs = {{HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), x, nullptr},
                                    {HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), masked_latents, nullptr},
                                    {HostTensor::Type::Float32, latent_shape(1), mask_latent, nullptr},
                                    {HostTensor::Type::Int64, {1}, &index_value, nullptr}};
  ExecutorchGraph* step_graph = nullptr;
  Status status = graph(kStep, step_graph);
  if (!status.ok()) return status;
  return step_graph->run(inputs, {{HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), nullptr, next_x}});
}

Status Engine::decode(const float* x, float* image) {
  ExecutorchGraph* decode_graph = nullptr;
  Status status = graph(kDecode, decode_graph);
  if (!status.ok()) return status;
  const DecodeTiling& tiling = manifest_.decode_tiling;
  if (!tiling.enabled()) {
    return decode_graph->run({{HostTensor::Type::Float32, latent_shape(manifest_.latent_channels), x, nullptr}},
                             {{HostTensor::Type::Float32, image_shape(3), nullptr, image}});
  }
  // The decode graph was exported for one tile: its working memory scales with the tile's area, not the image's.
  const int scale = manifest_.image_size / manifest_.latent_size, pixels = tiling.tile * scale;
  const std::vector<int32_t> tile_latent = {1, manifest_.latent_channels, tiling.tile, tiling.tile}, tile_image = {1, 3, pixels, pixels};
  return decode_tiled(tiling, manifest_.latent_channels, manifest_.latent_size, scale, x, image,
                      [&](const float* latent_tile, float* image_tile) {
                        return decode_graph->run({{HostTensor::Type::Float32, tile_latent, latent_tile, nullptr}},
                                                 {{HostTensor::Type::Float32, tile_image, nullptr, image_tile}});
                      });
}

Status Engine::inpaint(const uint8_t* rgba, int width, int height, const uint8_t* mask, const float* noise, size_t noise_count,
                       uint64_t seed, uint8_t* out_rgba) {
  auto start = Clock::now();
  const double open_ms = timings_.open_ms;
  timings_ = moebius_timings{};
  timings_.open_ms = open_ms;
  step_times_ms_.clear();
  const int side = manifest_.image_size;
  if (width != side || height != side) {
    return Status::Error(MOEBIUS_ERROR_IMAGE_SIZE, "image is " + std::to_string(width) + "x" + std::to_string(height) + ", this bundle runs at " +
                                                       std::to_string(side) + "x" + std::to_string(side) +
                                                       ": crop or resize to the model's size first");
  }
  if (noise != nullptr && noise_count != latent_elements()) {
    return Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, "noise has " + std::to_string(noise_count) + " values, the model needs " +
                                                             std::to_string(latent_elements()) + " ([1," +
                                                             std::to_string(manifest_.latent_channels) + "," + std::to_string(manifest_.latent_size) +
                                                             "," + std::to_string(manifest_.latent_size) + "])");
  }
  const size_t pixels = image_elements();
  std::vector<uint8_t> hole(pixels);
  bool any_hole = false;
  for (size_t p = 0; p < pixels; ++p) {
    hole[p] = mask[p] >= kHoleThreshold;
    any_hole = any_hole || hole[p];
  }
  if (!any_hole) {  // nothing to fill: the input, untouched (as the Python runner does)
    if (out_rgba != rgba) std::memcpy(out_rgba, rgba, pixels * 4);
    for (size_t p = 0; p < pixels; ++p) out_rgba[4 * p + 3] = 255;
    timings_.total_ms = milliseconds_since(start);
    return Status::Ok();
  }

  // Pixels to the model's tensors: [-1,1] image and {0,1} mask, NCHW, float32 in Python's operation order.
  auto phase = Clock::now();
  std::vector<float> image(3 * pixels), mask_tensor(pixels);
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) {
      float unit = static_cast<float>(rgba[4 * p + c]) / 255.0f;
      image[c * pixels + p] = unit * 2.0f - 1.0f;
    }
    mask_tensor[p] = hole[p] ? 1.0f : 0.0f;
  }
  double convert_ms = milliseconds_since(phase);

  const size_t latent = latent_elements();
  std::vector<float> masked_latents(latent), mask_latent(latent_pixels()), clean_latents(manifest_.starts_from_noise() ? 0 : latent);
  phase = Clock::now();
  Status status = encode(image.data(), mask_tensor.data(), masked_latents.data(), mask_latent.data(),
                         clean_latents.empty() ? nullptr : clean_latents.data());
  if (!status.ok()) return status;
  timings_.encode_ms = milliseconds_since(phase);

  std::vector<float> x(latent), next(latent);
  if (noise != nullptr) {
    std::memcpy(x.data(), noise, latent * sizeof(float));
  } else {
    seeded_normal_noise(seed, x.data(), latent);
  }
  if (!manifest_.starts_from_noise()) {
    for (size_t k = 0; k < latent; ++k) x[k] = manifest_.start_signal * clean_latents[k] + manifest_.start_noise * x[k];
  }
  phase = Clock::now();
  for (int i = 0; i < manifest_.steps; ++i) {
    auto step_start = Clock::now();
    status = step(x.data(), masked_latents.data(), mask_latent.data(), i, next.data());
    if (!status.ok()) return status;
    x.swap(next);
    step_times_ms_.push_back(milliseconds_since(step_start));
  }
  timings_.denoise_ms = milliseconds_since(phase);

  std::vector<float> decoded(3 * pixels);
  phase = Clock::now();
  status = decode(x.data(), decoded.data());
  if (!status.ok()) return status;
  timings_.decode_ms = milliseconds_since(phase);

  // [0,1] to bytes by truncation (as tensor_to_image does), then paste back through the blurred hole.
  phase = Clock::now();
  std::vector<uint8_t> generated(pixels * 4);
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) {
      float value = std::min(std::max(decoded[c * pixels + p], 0.0f), 1.0f) * 255.0f;
      generated[4 * p + c] = static_cast<uint8_t>(value);
    }
    generated[4 * p + 3] = 255;
  }
  paste_hole(rgba, generated.data(), hole.data(), width, height, out_rgba);
  timings_.paste_ms = convert_ms + milliseconds_since(phase);

  timings_.steps = manifest_.steps;
  if (!step_times_ms_.empty()) {
    timings_.step_min_ms = *std::min_element(step_times_ms_.begin(), step_times_ms_.end());
    timings_.step_max_ms = *std::max_element(step_times_ms_.begin(), step_times_ms_.end());
    timings_.step_mean_ms = timings_.denoise_ms / step_times_ms_.size();
  }
  timings_.total_ms = milliseconds_since(start);
  return Status::Ok();
}

}  // namespace moebius
