// The C ABI: argument checks, a per-thread error message, and no exception escapes.
#include "moebius_edge.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
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

// A buffer is NULL or shorter than the call reads or writes: said before anything touches it.
moebius::Status check_buffer(const void* buffer, const char* name, size_t given, size_t needed, const char* unit) {
  if (buffer == nullptr) return missing(name);
  if (given < needed) {
    return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, std::string(name) + " has " + std::to_string(given) + " " + unit +
                                                                      ", this call needs " + std::to_string(needed));
  }
  return moebius::Status::Ok();
}

moebius::Status check_image_size(int32_t width, int32_t height) {
  if (width <= 0 || height <= 0) {
    return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT,
                                  "image size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
  }
  return moebius::Status::Ok();
}

// The first failed check, or Ok.
moebius::Status first_error(std::initializer_list<moebius::Status> checks) {
  for (const auto& check : checks) {
    if (!check.ok()) return check;
  }
  return moebius::Status::Ok();
}

// struct_size as ABI version 2 defined moebius_info (every field up to start_noise).
constexpr size_t kInfoSizeV2 = offsetof(moebius_info, start_noise) + sizeof(float);

}  // namespace

extern "C" {

int32_t moebius_abi_version(void) { return MOEBIUS_EDGE_ABI_VERSION; }

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
    if (flags & ~(MOEBIUS_OPEN_SKIP_CHECKSUMS | MOEBIUS_OPEN_LOAD_IN_TURN | MOEBIUS_OPEN_THREADS(0xff))) {
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
    const size_t wanted = out_info->struct_size;
    if (wanted < kInfoSizeV2) {
      return moebius::Status::Error(MOEBIUS_ERROR_INVALID_ARGUMENT, "out_info->struct_size is " + std::to_string(wanted) +
                                                                        ": set it to sizeof(moebius_info) (" +
                                                                        std::to_string(sizeof(moebius_info)) + ")");
    }
    moebius_info info = engine->engine->info();
    info.struct_size = static_cast<uint32_t>(std::min(wanted, sizeof(moebius_info)));
    std::memcpy(out_info, &info, info.struct_size);
    return moebius::Status::Ok();
  });
}

moebius_status moebius_inpaint(moebius_engine* engine, const uint8_t* rgba, size_t rgba_size, int32_t width, int32_t height,
                               const uint8_t* mask, size_t mask_size, const float* noise, size_t noise_count, uint64_t seed,
                               uint8_t* out_rgba, size_t out_size) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    moebius::Status status = check_image_size(width, height);
    if (!status.ok()) return status;
    const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
    status = first_error({check_buffer(rgba, "rgba", rgba_size, pixels * 4, "bytes"), check_buffer(mask, "mask", mask_size, pixels, "bytes"),
                          check_buffer(out_rgba, "out_rgba", out_size, pixels * 4, "bytes")});
    if (!status.ok()) return status;
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

moebius_status moebius_encode(moebius_engine* engine, const float* image, size_t image_count, const float* mask, size_t mask_count,
                              float* out_masked_latents, size_t masked_latents_count, float* out_mask_latent, size_t mask_latent_count,
                              float* out_clean_latents, size_t clean_latents_count) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    const moebius::Engine& e = *engine->engine;
    moebius::Status status = first_error(
        {check_buffer(image, "image", image_count, 3 * e.image_elements(), "floats"),
         check_buffer(mask, "mask", mask_count, e.image_elements(), "floats"),
         check_buffer(out_masked_latents, "out_masked_latents", masked_latents_count, e.latent_elements(), "floats"),
         check_buffer(out_mask_latent, "out_mask_latent", mask_latent_count, e.latent_pixels(), "floats")});
    if (!status.ok()) return status;
    if (out_clean_latents != nullptr) {
      status = check_buffer(out_clean_latents, "out_clean_latents", clean_latents_count, e.latent_elements(), "floats");
      if (!status.ok()) return status;
    }
    return engine->engine->encode(image, mask, out_masked_latents, out_mask_latent, out_clean_latents);
  });
}

moebius_status moebius_step(moebius_engine* engine, const float* x, size_t x_count, const float* masked_latents,
                            size_t masked_latents_count, const float* mask_latent, size_t mask_latent_count, int64_t step_index,
                            float* out_x, size_t out_x_count) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    const moebius::Engine& e = *engine->engine;
    moebius::Status status =
        first_error({check_buffer(x, "x", x_count, e.latent_elements(), "floats"),
                     check_buffer(masked_latents, "masked_latents", masked_latents_count, e.latent_elements(), "floats"),
                     check_buffer(mask_latent, "mask_latent", mask_latent_count, e.latent_pixels(), "floats"),
                     check_buffer(out_x, "out_x", out_x_count, e.latent_elements(), "floats")});
    if (!status.ok()) return status;
    return engine->engine->step(x, masked_latents, mask_latent, step_index, out_x);
  });
}

moebius_status moebius_decode(moebius_engine* engine, const float* x, size_t x_count, float* out_image, size_t image_count) {
  return guarded([&]() -> moebius::Status {
    if (engine == nullptr) return missing("engine");
    const moebius::Engine& e = *engine->engine;
    moebius::Status status = first_error({check_buffer(x, "x", x_count, e.latent_elements(), "floats"),
                                          check_buffer(out_image, "out_image", image_count, 3 * e.image_elements(), "floats")});
    if (!status.ok()) return status;
    return engine->engine->decode(x, out_image);
  });
}

moebius_status moebius_paste_hole(const uint8_t* original_rgba, size_t original_size, const uint8_t* generated_rgba,
                                  size_t generated_size, const uint8_t* mask, size_t mask_size, int32_t width, int32_t height,
                                  uint8_t* out_rgba, size_t out_size) {
  return guarded([&]() -> moebius::Status {
    moebius::Status status = check_image_size(width, height);
    if (!status.ok()) return status;
    const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
    status = first_error({check_buffer(original_rgba, "original_rgba", original_size, pixels * 4, "bytes"),
                          check_buffer(generated_rgba, "generated_rgba", generated_size, pixels * 4, "bytes"),
                          check_buffer(mask, "mask", mask_size, pixels, "bytes"),
                          check_buffer(out_rgba, "out_rgba", out_size, pixels * 4, "bytes")});
    if (!status.ok()) return status;
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
