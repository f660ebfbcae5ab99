/*
 * swift_call_mirror BUNDLE MISSING_DIR
 *
 * Every C ABI call the Swift package (swift/Sources/MoebiusEdge/MoebiusEdge.swift) makes, with the arguments it
 * passes: each Swift array becomes a heap block of exactly its length, so AddressSanitizer (this program's build in
 * tests/test_bindings_swift_mirror.py) reports any read or write past one. Short arrays are passed as Swift passes
 * them, with their real counts, and must come back as MOEBIUS_ERROR_INVALID_ARGUMENT with the C ABI's message.
 * Also checks that the Swift step-by-step loop (encode, step, decode, paste-back) gives moebius_inpaint's picture
 * bit for bit. Prints one line per failed check; exit 0 when all pass, 1 otherwise, 2 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moebius_edge.h"

static int checks = 0, failures = 0;

static void expect(int condition, const char* what) {
  ++checks;
  if (!condition) {
    ++failures;
    printf("FAILED: %s (last error: %s)\n", what, moebius_last_error());
  }
}

/* The call failed with `status` and exactly `message`. */
static void expect_error(moebius_status got, moebius_status status, const char* message, const char* what) {
  char line[512];
  snprintf(line, sizeof line, "%s: status %s, message '%s'", what, moebius_status_name(got), moebius_last_error());
  expect(got == status && strcmp(moebius_last_error(), message) == 0, line);
}

/* A Swift array of `count` elements: NULL when empty (an empty array's baseAddress may be nil). The bound keeps
 * a size computed from a bad manifest from asking calloc for the impossible. */
static void* array_of(size_t count, size_t element) { return count == 0 || count > ((size_t)1 << 32) ? NULL : calloc(count, element); }
static unsigned char* bytes(size_t count) { return (unsigned char*)array_of(count, 1); }
static float* floats(size_t count) { return (float*)array_of(count, sizeof(float)); }

typedef struct Engine {
  moebius_engine* engine;
  moebius_info info;
  size_t pixels, latent_count, latent_pixels;
} Engine;

/* MoebiusEdge.inpaint(rgba:mask:seed:noise:): out has rgba.count bytes. */
static moebius_status swift_inpaint(const Engine* e, const unsigned char* rgba, size_t rgba_count, const unsigned char* mask,
                                    size_t mask_count, uint64_t seed, const float* noise, size_t noise_count, unsigned char* out) {
  int32_t side = e->info.image_size;
  return moebius_inpaint(e->engine, rgba, rgba_count, side, side, mask, mask_count, noise, noise_count, seed, out, rgba_count);
}

/* MoebiusEdge.inpaintStepByStep(rgba:mask:seed:noise:onStep:) with the full-size arrays; writes the picture to out. */
static moebius_status swift_inpaint_step_by_step(const Engine* e, const unsigned char* rgba, const unsigned char* mask, uint64_t seed,
                                                 unsigned char* out, int* callbacks) {
  const size_t pixels = e->pixels, latents = e->latent_count;
  float* image = floats(3 * pixels);
  float* hole = floats(pixels);
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) image[c * pixels + p] = (float)rgba[4 * p + c] / 255.0f * 2.0f - 1.0f;
    hole[p] = mask[p] >= 128 ? 1.0f : 0.0f;
  }
  float *masked = floats(latents), *mask_latent = floats(e->latent_pixels);
  float* clean = e->info.strength < 1.0f ? floats(latents) : NULL;
  float *x = floats(latents), *next = floats(latents), *decoded = floats(3 * pixels);
  unsigned char* generated = bytes(4 * pixels);
  moebius_status status = moebius_encode(e->engine, image, 3 * pixels, hole, pixels, masked, latents, mask_latent, e->latent_pixels,
                                         clean, clean ? latents : 0);
  if (status == MOEBIUS_OK) status = moebius_seeded_noise(seed, x, latents);
  if (status == MOEBIUS_OK && clean) {
    for (size_t k = 0; k < latents; ++k) x[k] = e->info.start_signal * clean[k] + e->info.start_noise * x[k];
  }
  for (int i = 0; status == MOEBIUS_OK && i < e->info.steps; ++i) {
    status = moebius_step(e->engine, x, latents, masked, latents, mask_latent, e->latent_pixels, i, next, latents);
    float* swap = x;
    x = next;
    next = swap;
    ++*callbacks;
  }
  if (status == MOEBIUS_OK) status = moebius_decode(e->engine, x, latents, decoded, 3 * pixels);
  if (status == MOEBIUS_OK) {
    for (size_t p = 0; p < pixels; ++p) {
      for (int c = 0; c < 3; ++c) {
        float value = decoded[c * pixels + p];
        value = value < 0.0f ? 0.0f : (value > 1.0f ? 1.0f : value);
        generated[4 * p + c] = (unsigned char)(value * 255.0f);
      }
      generated[4 * p + 3] = 255;
    }
    int32_t side = e->info.image_size;
    status = moebius_paste_hole(rgba, 4 * pixels, generated, 4 * pixels, mask, pixels, side, side, out, 4 * pixels);
  }
  free(image), free(hole), free(masked), free(mask_latent), free(clean), free(x), free(next), free(decoded), free(generated);
  return status;
}

static void check_short_buffers(const Engine* e) {
  const size_t pixels = e->pixels, latents = e->latent_count;
  char message[256];
  unsigned char *rgba = bytes(4 * pixels), *mask = bytes(pixels), *out = bytes(4 * pixels);
  unsigned char *short_rgba = bytes(4 * pixels - 1), *short_mask = bytes(pixels / 2), *short_out = bytes(4 * pixels - 1);
  float* short_noise = floats(10);

  snprintf(message, sizeof message, "rgba has %zu bytes, this call needs %zu", 4 * pixels - 1, 4 * pixels);
  expect_error(swift_inpaint(e, short_rgba, 4 * pixels - 1, mask, pixels, 0, NULL, 0, short_out), MOEBIUS_ERROR_INVALID_ARGUMENT,
               message, "inpaint, short rgba");
  snprintf(message, sizeof message, "mask has %zu bytes, this call needs %zu", pixels / 2, pixels);
  expect_error(swift_inpaint(e, rgba, 4 * pixels, short_mask, pixels / 2, 0, NULL, 0, out), MOEBIUS_ERROR_INVALID_ARGUMENT, message,
               "inpaint, short mask");
  expect_error(swift_inpaint(e, NULL, 0, mask, pixels, 0, NULL, 0, NULL), MOEBIUS_ERROR_INVALID_ARGUMENT, "rgba is NULL",
               "inpaint, empty rgba");
  snprintf(message, sizeof message, "noise has 10 values, the model needs %zu ([1,%d,%d,%d])", latents, e->info.latent_channels,
           e->info.latent_size, e->info.latent_size);
  expect_error(swift_inpaint(e, rgba, 4 * pixels, mask, pixels, 0, short_noise, 10, out), MOEBIUS_ERROR_INVALID_ARGUMENT, message,
               "inpaint, short noise");

  float *image = floats(3 * pixels - 1), *hole = floats(pixels), *masked = floats(latents), *mask_latent = floats(e->latent_pixels);
  snprintf(message, sizeof message, "image has %zu floats, this call needs %zu", 3 * pixels - 1, 3 * pixels);
  expect_error(moebius_encode(e->engine, image, 3 * pixels - 1, hole, pixels, masked, latents, mask_latent, e->latent_pixels, NULL, 0),
               MOEBIUS_ERROR_INVALID_ARGUMENT, message, "encode, short image");
  float* short_latents = floats(latents - 1);
  float* next = floats(latents);
  snprintf(message, sizeof message, "x has %zu floats, this call needs %zu", latents - 1, latents);
  expect_error(moebius_step(e->engine, short_latents, latents - 1, masked, latents, mask_latent, e->latent_pixels, 0, next, latents),
               MOEBIUS_ERROR_INVALID_ARGUMENT, message, "step, short x");
  float* decoded = floats(3 * pixels);
  snprintf(message, sizeof message, "x has %zu floats, this call needs %zu", latents - 1, latents);
  expect_error(moebius_decode(e->engine, short_latents, latents - 1, decoded, 3 * pixels), MOEBIUS_ERROR_INVALID_ARGUMENT, message,
               "decode, short x");
  snprintf(message, sizeof message, "mask has %zu bytes, this call needs %zu", pixels / 2, pixels);
  int32_t side = e->info.image_size;
  expect_error(moebius_paste_hole(rgba, 4 * pixels, rgba, 4 * pixels, short_mask, pixels / 2, side, side, out, 4 * pixels),
               MOEBIUS_ERROR_INVALID_ARGUMENT, message, "paste_hole, short mask");
  snprintf(message, sizeof message, "out_rgba has %zu bytes, this call needs %zu", 4 * pixels - 1, 4 * pixels);
  expect_error(moebius_paste_hole(rgba, 4 * pixels, rgba, 4 * pixels, mask, pixels, side, side, short_out, 4 * pixels - 1),
               MOEBIUS_ERROR_INVALID_ARGUMENT, message, "paste_hole, short out");

  moebius_info old_info;
  memset(&old_info, 0, sizeof old_info);
  old_info.struct_size = 8;  /* an app that did not set it, or a header older than version 2 */
  expect(moebius_get_info(e->engine, &old_info) == MOEBIUS_ERROR_INVALID_ARGUMENT && old_info.image_size == 0,
         "get_info refuses a struct_size below version 2's");

  free(rgba), free(mask), free(out), free(short_rgba), free(short_mask), free(short_out), free(short_noise);
  free(image), free(hole), free(masked), free(mask_latent), free(short_latents), free(next), free(decoded);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: swift_call_mirror BUNDLE MISSING_DIR\n");
    return 2;
  }
  expect(moebius_abi_version() == MOEBIUS_EDGE_ABI_VERSION, "the loaded library's ABI version is the header's");

  moebius_engine* missing = NULL;
  moebius_status status = moebius_open(argv[2], MOEBIUS_OPEN_DEFAULT, &missing);
  expect(status == MOEBIUS_ERROR_NOT_FOUND && missing == NULL && strstr(moebius_last_error(), argv[2]) != NULL,
         "open of a missing folder is NOT_FOUND and names it");

  Engine e;
  memset(&e, 0, sizeof e);
  if (moebius_open(argv[1], MOEBIUS_OPEN_DEFAULT, &e.engine) != MOEBIUS_OK) {
    printf("FAILED: open %s: %s\n", argv[1], moebius_last_error());
    return 1;
  }
  e.info.struct_size = (uint32_t)sizeof e.info;
  expect(moebius_get_info(e.engine, &e.info) == MOEBIUS_OK && e.info.struct_size == sizeof e.info, "get_info fills the whole struct");
  e.pixels = (size_t)e.info.image_size * (size_t)e.info.image_size;
  e.latent_pixels = (size_t)e.info.latent_size * (size_t)e.info.latent_size;
  e.latent_count = (size_t)e.info.latent_channels * e.latent_pixels;

  /* A square hole in a gradient. */
  unsigned char *rgba = bytes(4 * e.pixels), *mask = bytes(e.pixels);
  for (size_t p = 0; p < e.pixels; ++p) {
    size_t row = p / (size_t)e.info.image_size, column = p % (size_t)e.info.image_size;
    rgba[4 * p] = (unsigned char)row, rgba[4 * p + 1] = (unsigned char)column, rgba[4 * p + 2] = 128, rgba[4 * p + 3] = 200;
    mask[p] = row > 100 && row < 300 && column > 150 && column < 350 ? 255 : 0;
  }
  const uint64_t seed = 11;
  unsigned char *one_call = bytes(4 * e.pixels), *stepwise = bytes(4 * e.pixels);
  expect(swift_inpaint(&e, rgba, 4 * e.pixels, mask, e.pixels, seed, NULL, 0, one_call) == MOEBIUS_OK, "inpaint");
  int callbacks = 0;
  expect(swift_inpaint_step_by_step(&e, rgba, mask, seed, stepwise, &callbacks) == MOEBIUS_OK, "inpaint step by step");
  expect(callbacks == e.info.steps, "one callback per step");
  expect(memcmp(one_call, stepwise, 4 * e.pixels) == 0, "the step-by-step loop gives moebius_inpaint's picture bit for bit");
  expect(memcmp(one_call, rgba, 4 * e.pixels) != 0, "the hole was filled");

  moebius_timings timings;
  expect(moebius_get_timings(e.engine, &timings) == MOEBIUS_OK && timings.steps == e.info.steps && timings.total_ms > 0, "timings");
  size_t count = 0;
  expect(moebius_get_step_times(e.engine, NULL, 0, &count) == MOEBIUS_OK && count == (size_t)e.info.steps, "step count");
  double* times = (double*)array_of(count, sizeof(double));
  expect(moebius_get_step_times(e.engine, times, count, &count) == MOEBIUS_OK && times[0] > 0, "step times");
  float* noise = floats(1001);
  expect(moebius_seeded_noise(seed, noise, 1001) == MOEBIUS_OK && noise[1000] != 0.0f, "seeded noise");

  /* MoebiusEdge(bundle:loadInTurn: true, threads: 1): one graph resident at a time, the same pictures both ways. */
  Engine in_turn = e;
  in_turn.engine = NULL;
  if (moebius_open(argv[1], MOEBIUS_OPEN_LOAD_IN_TURN | ((uint32_t)1 << 8), &in_turn.engine) == MOEBIUS_OK) {
    unsigned char *in_turn_one_call = bytes(4 * e.pixels), *in_turn_stepwise = bytes(4 * e.pixels);
    int in_turn_callbacks = 0;
    expect(swift_inpaint(&in_turn, rgba, 4 * e.pixels, mask, e.pixels, seed, NULL, 0, in_turn_one_call) == MOEBIUS_OK, "inpaint, graphs in turn");
    expect(swift_inpaint_step_by_step(&in_turn, rgba, mask, seed, in_turn_stepwise, &in_turn_callbacks) == MOEBIUS_OK,
           "inpaint step by step, graphs in turn");
    expect(memcmp(one_call, in_turn_one_call, 4 * e.pixels) == 0 && memcmp(one_call, in_turn_stepwise, 4 * e.pixels) == 0,
           "graphs loaded in turn give the same picture");
    moebius_close(in_turn.engine);
    free(in_turn_one_call), free(in_turn_stepwise);
  } else {
    expect(0, "open with MOEBIUS_OPEN_LOAD_IN_TURN");
  }

  check_short_buffers(&e);
  moebius_close(e.engine);
  free(rgba), free(mask), free(one_call), free(stepwise), free(times), free(noise);
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
