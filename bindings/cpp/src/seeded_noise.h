// Standard-normal noise from a seed, the same on every platform (no std::normal_distribution, whose output
// differs between standard libraries). It is not torch's generator: to reproduce a Python result exactly,
// pass Python's noise to moebius_inpaint instead.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moebius {

void seeded_normal_noise(uint64_t seed, float* out, size_t count);

}  // namespace moebius
