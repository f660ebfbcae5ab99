// IEEE 754 binary16 <-> binary32 conversion for fp16 graphs (round to nearest even, as torch's .half()).
#pragma once

#include <cstddef>
#include <cstdint>

namespace moebius {

void float_to_half(const float* in, uint16_t* out, size_t count);
void half_to_float(const uint16_t* in, float* out, size_t count);

}  // namespace moebius
