/*
 * moebius_edge.h: the C ABI of the Moebius Edge runtime (C++17 over ExecuTorch).
 *
 * An app opens a bundle folder written by `moebius-edge export --backend executorch`, inpaints RGBA
 * buffers with it, reads per-stage timings and closes it. Every function returns a moebius_status;
 * on failure moebius_last_error() gives a one-line message. No C++ exception crosses this boundary.
 *
 *   moebius_engine* engine = NULL;
 *   if (moebius_open("bundle-dir", MOEBIUS_OPEN_DEFAULT, &engine) != MOEBIUS_OK) {
 *     fprintf(stderr, "%s\n", moebius_last_error());
 *   }
 *   moebius_inpaint(engine, rgba, rgba_size, width, height, mask, mask_size, NULL, 0, 42, out_rgba, out_size);
 *   moebius_close(engine);
 *
 * Every buffer is passed with its length (bytes for uint8_t buffers, values for float buffers): a buffer shorter
 * than the call needs is MOEBIUS_ERROR_INVALID_ARGUMENT, never an out-of-bounds access. Longer is allowed.
 *
 * Threading: an engine is not thread-safe; use one engine per thread or serialise calls.
 * moebius_last_error() is per thread.
 */
#ifndef MOEBIUS_EDGE_H
#define MOEBIUS_EDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2: buffer lengths on every call, moebius_info.struct_size, moebius_abi_version(). */
#define MOEBIUS_EDGE_ABI_VERSION 2

#if defined(_WIN32)
#define MOEBIUS_EDGE_API
#else
#define MOEBIUS_EDGE_API __attribute__((visibility("default")))
#endif

typedef enum moebius_status {
  MOEBIUS_OK = 0,
  MOEBIUS_ERROR_INVALID_ARGUMENT = 1, /* a NULL pointer, a wrong length, a step index out of range */
  MOEBIUS_ERROR_NOT_FOUND = 2,        /* the bundle folder, its manifest or one of its graphs is missing */
  MOEBIUS_ERROR_BAD_MANIFEST = 3,     /* manifest.json is unreadable, malformed or lacks a field */
  MOEBIUS_ERROR_UNSUPPORTED = 4,      /* another backend, a newer format, or a graph signature this runtime lacks */
  MOEBIUS_ERROR_CORRUPT_BUNDLE = 5,   /* a file's SHA-256 differs from the manifest, or ExecuTorch refused it */
  MOEBIUS_ERROR_IMAGE_SIZE = 6,       /* the image is not the model's size (e.g. 512x512) */
  MOEBIUS_ERROR_RUNTIME = 7,          /* ExecuTorch failed while running a graph */
  MOEBIUS_ERROR_OUT_OF_MEMORY = 8,
  MOEBIUS_ERROR_INTERNAL = 9
} moebius_status;

/* Flags for moebius_open. */
#define MOEBIUS_OPEN_DEFAULT 0u
/* Skip the SHA-256 check of the graph files (saves ~1 s per GB at open; corruption is then only caught
 * where ExecuTorch's own verification notices it). */
#define MOEBIUS_OPEN_SKIP_CHECKSUMS 1u
/* Hold one graph at a time: each of encode, step and decode is loaded when its phase starts and the one before
 * is freed, so the engine's peak is that of its largest graph instead of all three together. Every inpaint then
 * loads the three graphs once more (their loading time is inside encode_ms, the first step and decode_ms).
 * moebius_open still loads each graph once to check it and keeps the encode graph. */
#define MOEBIUS_OPEN_LOAD_IN_TURN 2u
/* Bits 8-15: the number of threads of ExecuTorch's thread pool, which XNNPACK runs on (0: leave it as it is; the
 * runtime starts one per performance core). The pool is process-wide: the setting applies to every engine. */
#define MOEBIUS_OPEN_THREADS(n) (((uint32_t)(n) & 0xffu) << 8)

typedef struct moebius_engine moebius_engine;

/* What the bundle holds, from its manifest. Strings are owned by the engine.
 * Set struct_size = sizeof(moebius_info) before moebius_get_info: the library fills only the fields that fit
 * (so a newer library serves an app built against this header) and sets struct_size to the bytes it filled. */
typedef struct moebius_info {
  uint32_t struct_size;
  int32_t image_size;      /* the square side the model runs at, e.g. 512 */
  int32_t latent_size;     /* image_size / 8 */
  int32_t latent_channels; /* 4 */
  int32_t steps;           /* DDIM steps the step graph runs (the retained ones) */
  float strength;
  float guidance_scale;
  const char* backend;   /* "executorch" */
  const char* precision; /* "fp32", "int8", ... */
  const char* model;     /* the model preset, e.g. "tiny" */
  /* The loop's start when strength < 1: x0 = start_signal * clean_latents + start_noise * noise (0 and 1 when strength is 1). */
  float start_signal;
  float start_noise;
} moebius_info;

/* Wall-clock milliseconds of the last moebius_inpaint (open_ms: of moebius_open). */
typedef struct moebius_timings {
  double open_ms;
  double encode_ms;
  double denoise_ms; /* all steps */
  double step_min_ms;
  double step_mean_ms;
  double step_max_ms;
  double decode_ms;
  double paste_ms; /* pixel conversion and paste-back */
  double total_ms; /* the whole moebius_inpaint call */
  int32_t steps;
} moebius_timings;

/* MOEBIUS_EDGE_ABI_VERSION of the library actually loaded; a wrapper compares it with the header it was built with. */
MOEBIUS_EDGE_API int32_t moebius_abi_version(void);

/* The message of the last failed call on this thread ("" if none). Valid until the next call on this thread. */
MOEBIUS_EDGE_API const char* moebius_last_error(void);

/* A short name for a status code, e.g. "MOEBIUS_ERROR_NOT_FOUND". */
MOEBIUS_EDGE_API const char* moebius_status_name(moebius_status status);

/* Opens the bundle folder `bundle_dir` (checks its manifest and file digests, loads the three graphs). */
MOEBIUS_EDGE_API moebius_status moebius_open(const char* bundle_dir, uint32_t flags, moebius_engine** out_engine);

/* Frees the engine; NULL is allowed. */
MOEBIUS_EDGE_API void moebius_close(moebius_engine* engine);

/* Set out_info->struct_size first (moebius_info); a size below version 2's is MOEBIUS_ERROR_INVALID_ARGUMENT. */
MOEBIUS_EDGE_API moebius_status moebius_get_info(const moebius_engine* engine, moebius_info* out_info);

/*
 * Fills the hole of an image at the model's size (width == height == info.image_size, else
 * MOEBIUS_ERROR_IMAGE_SIZE).
 *   rgba:     width*height*4 bytes, row-major; alpha is ignored (the image is taken as opaque).
 *   mask:     width*height bytes; a value >= 128 marks a pixel to fill (white = hole).
 *   noise:    latent_channels*latent_size*latent_size floats of standard-normal noise ([1,4,64,64], NCHW),
 *             or NULL to draw it from `seed` with the runtime's own generator. Pass Python's noise to get
 *             Python's result.
 *   out_rgba: width*height*4 bytes; may be the same buffer as rgba. Alpha is 255.
 * Outside the blurred hole the output equals the input; an empty mask returns the input unchanged.
 */
MOEBIUS_EDGE_API moebius_status moebius_inpaint(moebius_engine* engine, const uint8_t* rgba, size_t rgba_size, int32_t width,
                                                int32_t height, const uint8_t* mask, size_t mask_size, const float* noise,
                                                size_t noise_count, uint64_t seed, uint8_t* out_rgba, size_t out_size);

MOEBIUS_EDGE_API moebius_status moebius_get_timings(const moebius_engine* engine, moebius_timings* out_timings);

/* Per-step milliseconds of the last inpaint: writes min(capacity, steps) values, sets *out_count to steps. */
MOEBIUS_EDGE_API moebius_status moebius_get_step_times(const moebius_engine* engine, double* out_ms, size_t capacity, size_t* out_count);

/*
 * The three graphs, for apps that drive the loop themselves (progress bars, cancellation) and for the
 * conformance tests. All tensors are float32, NCHW, batch 1; S = image_size, L = latent_size, C = latent_channels.
 *   encode: image [1,3,S,S] in [-1,1], mask [1,1,S,S] in {0,1} -> masked_latents [1,C,L,L], mask_latent [1,1,L,L]
 *           (clean_latents [1,C,L,L] too when strength < 1; pass NULL otherwise)
 *   step:   x, masked_latents, mask_latent, step index i in [0, steps) -> next x [1,C,L,L]
 *   decode: x [1,C,L,L] -> image [1,3,S,S] in [0,1]
 * Each buffer is followed by its length in floats.
 * Driving the loop: x = noise (or start_signal*clean + start_noise*noise when strength < 1, as moebius_inpaint
 * does), then step i = 0 .. steps-1, then decode; convert to bytes and call moebius_paste_hole.
 */
MOEBIUS_EDGE_API moebius_status moebius_encode(moebius_engine* engine, const float* image, size_t image_count, const float* mask,
                                               size_t mask_count, float* out_masked_latents, size_t masked_latents_count,
                                               float* out_mask_latent, size_t mask_latent_count, float* out_clean_latents,
                                               size_t clean_latents_count);
MOEBIUS_EDGE_API moebius_status moebius_step(moebius_engine* engine, const float* x, size_t x_count, const float* masked_latents,
                                             size_t masked_latents_count, const float* mask_latent, size_t mask_latent_count,
                                             int64_t step_index, float* out_x, size_t out_x_count);
MOEBIUS_EDGE_API moebius_status moebius_decode(moebius_engine* engine, const float* x, size_t x_count, float* out_image,
                                               size_t image_count);

/*
 * The paste-back moebius_inpaint ends with, for apps that drive the loop themselves: blends `generated_rgba`
 * into `original_rgba` through the hole (mask >= 128) blurred like PIL's GaussianBlur(3), exactly as the
 * Python SDK does. Pixels beyond the blur keep the original. Buffers are width*height*4 (mask: width*height);
 * out_rgba may alias either input. Works at any size.
 */
MOEBIUS_EDGE_API moebius_status moebius_paste_hole(const uint8_t* original_rgba, size_t original_size, const uint8_t* generated_rgba,
                                                   size_t generated_size, const uint8_t* mask, size_t mask_size, int32_t width,
                                                   int32_t height, uint8_t* out_rgba, size_t out_size);

/* The runtime's seeded standard-normal generator (deterministic across platforms; not torch's). */
MOEBIUS_EDGE_API moebius_status moebius_seeded_noise(uint64_t seed, float* out, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* MOEBIUS_EDGE_H */
