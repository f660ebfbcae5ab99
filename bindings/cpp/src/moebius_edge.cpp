// The C ABI: argument checks, a per-thread error message, and no exception escapes.
#include "moebius_edge.h"

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "engine.h"
#include "paste_back.h"
#include "seeded_noise.h"

struct moebius_engine {
  std::unique_ptr<moebius::Engine> engine;
};

namespace {

thread_local std::string last_error;

moebius_status report(const moebius::Status& status) {
  last_error = status.message;
  return status.code;
}

moebius_status fail(moebius_status code, const char* message) {
  last_error = message;
  return code;
}

// Runs `body` (returning moebius::Status) and turns exceptions into status codes.
template <typename Body>
moebius_status guarded(Body body) {
  try {
    last_error.clear();
    return report(body());
  } catch (const std::bad_alloc&) {
    return fail(MOEBIUS_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& error) {
    return fail(MOEBIUS_ERROR_INTERNAL, error.what());
  } catch (...) {
    return fail(MOEBIUS_ERROR_INTERNAL, "unknown internal error");
  }
}

moebius::Status missing(const char* what) {
  return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
}

}  // namespace

extern "C" {

const char* moebius_last_error(void) { return last_error.c_str(); }

const char* moebius_status_name(moebius_status status) {
  switch (status) {
    case MOEBIUS_OK: return "MOEBIUS_OK";
    case MOEBIUS_ERROR_INVALID_ARGUMENT: return "MOEBIUS_ERROR_INVALID_ARGUMENT";
    case MOEBIUS_ERROR_NOT_FOUND: return "MOEBIUS_ERROR_NOT_FOUND";
    case MOEBIUS_ERROR_BAD_MANIFEST: return "MOEBIUS_ERROR_BAD_MANIFEST";
    case MOEBIUS_ERROR_UNSUPPORTED: return "MOEBIUS_ERROR_UNSUPPORTED";
    case MOEBIUS_ERROR_CORRUPT_BUNDLE: return "MOEBIUS_ERROR_CORRUPT_BUNDLE";
    case MOEBIUS_ERROR_IMAGE_SIZE: return "MOEBIUS_ERROR_IMAGE_SIZE";
    case MOEBIUS_ERROR_RUNTIME: return "MOEBIUS_ERROR_RUNTIME";
    case MOEBIUS_ERROR_OUT_OF_MEMORY: return "MOEBIUS_ERROR_OUT_OF_MEMORY";
    case MOEBIUS_ERROR_INTERNAL: return "MOEBIUS_ERROR_INTERNAL";
  }
  return "MOEBIUS_UNKNOWN_STATUS";
}

moebius_status moebius_open(const char* bundle_dir, uint32_t flags, moebius_engine** out_engine) {
  return guarded([&]() -> moebius::Status {
    if (out_engine == nullptr) return missing("out_engine");
    *out_engine = nullptr;
    if (bundle_dir == nullptr) return missing("bundle_dir");
    if (flags & ~MOEBIUS_OPEN_SKIP_CHECKSUMS) {
      return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, "unknown flags " + std::to_string(flags));
    }
    std::unique_ptr<moebius::Engine> engine;
    moebius::Status status = moebius::Engine::open(bundle_dir, flags, engine);
    if (!status.ok()) return status;
    *out_engine = new moebius_engine{std::move(engine)};
    return moebius::Status::Ok();
  });
}

void moebius_close(moebius_engine* engine) {
  try {
    delete engine;
  } catch (...) {
  }
}

moebius_status moebius_get_info(const moebius_engine* engine, moebius_info* out_info) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (out_info == nullptr) return missing("out_info");
    *out_info = engine->engine->info();
    return moebius::Status::Ok();
  });
}

moebius_status moebius_inpaint(moebius_engine* engine, const uint8_t* rgba, int32_t width, int32_t height, const uint8_t* mask,
                               const float* noise, size_t noise_count, uint64_t seed, uint8_t* out_rgba) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (rgba == nullptr) return missing("rgba");
    if (mask == nullptr) return missing("mask");
    if (out_rgba == nullptr) return missing("out_rgba");
    if (width <= 0 || height <= 0) {
      return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT,
                                    "image size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
    }
    return engine->engine->inpaint(rgba, width, height, mask, noise, noise_count, seed, out_rgba);
  });
}

moebius_status moebius_get_timings(const moebius_engine* engine, moebius_timings* out_timings) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (out_timings == nullptr) return missing("out_timings");
    *out_timings = engine->engine->timings();
    return moebius::Status::Ok();
  });
}

moebius_status moebius_get_step_times(const moebius_engine* engine, double* out_ms, size_t capacity, size_t* out_count) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (out_count == nullptr) return missing("out_count");
    if (out_ms == nullptr && capacity > 0) return missing("out_ms");
    const auto& times = engine->engine->step_times_ms();
    std::copy_n(times.begin(), std::min(capacity, times.size()), out_ms);
    *out_count = times.size();
    return moebius::Status::Ok();
  });
}

moebius_status moebius_encode(moebius_engine* engine, const float* image, const float* mask, float* out_masked_latents,
                              float* out_mask_latent, float* out_clean_latents) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (image == nullptr) return missing("image");
    if (mask == nullptr) return missing("mask");
    if (out_masked_latents == nullptr) return missing("out_masked_latents");
    if (out_mask_latent == nullptr) return missing("out_mask_latent");
    return engine->engine->encode(image, mask, out_masked_latents, out_mask_latent, out_clean_latents);
  });
}

moebius_status moebius_step(moebius_engine* engine, const float* x, const float* masked_latents, const float* mask_latent,
                            int64_t step_index, float* out_x) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (x == nullptr) return missing("x");
    if (masked_latents == nullptr) return missing("masked_latents");
    if (mask_latent == nullptr) return missing("mask_latent");
    if (out_x == nullptr) return missing("out_x");
    return engine->engine->step(x, masked_latents, mask_latent, step_index, out_x);
  });
}

moebius_status moebius_decode(moebius_engine* engine, const float* x, float* out_image) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    if (x == nullptr) return missing("x");
    if (out_image == nullptr) return missing("out_image");
    return engine->engine->decode(x, out_image);
  });
}

moebius_status moebius_paste_hole(const uint8_t* original_rgba, const uint8_t* generated_rgba, const uint8_t* mask, int32_t width,
                                  int32_t height, uint8_t* out_rgba) {
  return guarded([&]() -> moebius::Status {
    if (original_rgba == nullptr) return missing("original_rgba");
    if (generated_rgba == nullptr) return missing("generated_rgba");
    if (mask == nullptr) return missing("mask");
    if (out_rgba == nullptr) return missing("out_rgba");
    if (width <= 0 || height <= 0) {
      return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT,
                                    "image size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
    }
    size_t pixels = static_cast<size_t>(width) * height;
    std::vector<uint8_t> hole(pixels);
    for (size_t p = 0; p < pixels; ++p) hole[p] = mask[p] >= 128;
    moebius::paste_hole(original_rgba, generated_rgba, hole.data(), width, height, out_rgba);
    return moebius::Status::Ok();
  });
}

moebius_status moebius_seeded_noise(uint64_t seed, float* out, size_t count) {
  return guarded([&]() -> moebius::Status {
    if (out == nullptr && count > 0) return missing("out");
    moebius::seeded_normal_noise(seed, out, count);
    return moebius::Status::Ok();
  });
}

}  // extern "C"
