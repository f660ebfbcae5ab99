#include "seeded_noise.h"

#include <cmath>

namespace moebius {
namespace {

// SplitMix64: a tiny, well-mixed 64-bit generator (Steele, Lea and Flood 2014).
uint64_t next_bits(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in (0, 1]: 53 random bits, never 0 so the logarithm below stays finite.
double next_uniform(uint64_t& state) { return ((next_bits(state) >> 11) + 1) * (1.0 / 9007199254740992.0); }

}  // namespace

void seeded_normal_noise(uint64_t seed, float* out, size_t count) {
  const double two_pi = 6.283185307179586;
  uint64_t state = seed;
  // Box-Muller: two uniforms give two independent normals.
  for (size_t i = 0; i < count; i += 2) {
    double radius = std::sqrt(-2.0 * std::log(next_uniform(state)));
    double angle = two_pi * next_uniform(state);
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < count) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

}  // namespace moebius
