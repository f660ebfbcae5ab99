#include "paste_back.h"

#include <algorithm>
#include <cmath>

namespace moebius {
namespace {

constexpr int kBoxPasses = 3;       // PIL's GaussianBlur uses three box passes per axis
constexpr float kPasteBlurRadius = 3.0f;

// PIL's box radius for a Gaussian of `radius` approximated by `passes` boxes (Gwosdek et al. 2011),
// evaluated in the same float/double mix so the fixed-point weights below come out identical.
float box_radius_for_gaussian(float radius, int passes) {
  float sigma2 = radius * radius / passes;
  float box_length = static_cast<float>(std::sqrt(12.0 * sigma2 + 1.0));
  float whole = static_cast<float>(std::floor((box_length - 1.0) / 2.0));
  float fraction = (2 * whole + 1) * (whole * (whole + 1) - 3 * sigma2);
  fraction /= 6 * (sigma2 - (whole + 1) * (whole + 1));
  return whole + fraction;
}

// One pass along a line of `count` samples spaced `stride` apart: each output is the sum of the 2r+1 nearest
// inputs (edges replicated) weighted `inner`, plus the next sample on each side weighted `outer`, in 8.24 fixed point.
void box_pass(uint8_t* line, int count, int stride, int whole_radius, uint32_t inner, uint32_t outer, std::vector<uint8_t>& scratch) {
  scratch.resize(count);
  auto at = [&](int i) -> uint32_t { return line[static_cast<size_t>(std::min(std::max(i, 0), count - 1)) * stride]; };
  uint32_t window = 0;
  for (int k = -whole_radius; k <= whole_radius; ++k) window += at(k);
  for (int x = 0; x < count; ++x) {
    uint32_t sum = window * inner + (at(x - whole_radius - 1) + at(x + whole_radius + 1)) * outer;
    scratch[x] = static_cast<uint8_t>((sum + (1u << 23)) >> 24);
    window += at(x + whole_radius + 1) - at(x - whole_radius);
  }
  for (int x = 0; x < count; ++x) line[static_cast<size_t>(x) * stride] = scratch[x];
}

}  // namespace

std::vector<uint8_t> gaussian_blur_like_pil(const std::vector<uint8_t>& channel, int width, int height, float radius) {
  std::vector<uint8_t> image = channel;
  float box = box_radius_for_gaussian(radius, kBoxPasses);
  if (box == 0.0f) return image;
  int whole = static_cast<int>(box);
  uint32_t inner = static_cast<uint32_t>(static_cast<float>(1 << 24) / (box * 2 + 1));
  uint32_t outer = ((1u << 24) - static_cast<uint32_t>(whole * 2 + 1) * inner) / 2;
  std::vector<uint8_t> scratch;
  // All horizontal passes, then all vertical ones: the order PIL uses (each pass rounds to 8 bits).
  for (int pass = 0; pass < kBoxPasses; ++pass) {
    for (int y = 0; y < height; ++y) box_pass(&image[static_cast<size_t>(y) * width], width, 1, whole, inner, outer, scratch);
  }
  for (int pass = 0; pass < kBoxPasses; ++pass) {
    for (int x = 0; x < width; ++x) box_pass(&image[x], height, width, whole, inner, outer, scratch);
  }
  return image;
}

void paste_hole(const uint8_t* original_rgba, const uint8_t* generated_rgba, const uint8_t* hole, int width, int height,
                uint8_t* out_rgba) {
  size_t pixels = static_cast<size_t>(width) * height;
  std::vector<uint8_t> weight(pixels);
  for (size_t p = 0; p < pixels; ++p) weight[p] = hole[p] ? 255 : 0;
  weight = gaussian_blur_like_pil(weight, width, height, kPasteBlurRadius);
  for (size_t p = 0; p < pixels; ++p) {
    double w = weight[p] / 255.0;
    for (int c = 0; c < 3; ++c) {
      // Same operation order as the Python paste (divide each image by 255 first), in double, truncated.
      double blended = (generated_rgba[4 * p + c] / 255.0) * w + (1.0 - w) * (original_rgba[4 * p + c] / 255.0);
      out_rgba[4 * p + c] = static_cast<uint8_t>(blended * 255.0);
    }
    out_rgba[4 * p + 3] = 255;
  }
}

}  // namespace moebius
