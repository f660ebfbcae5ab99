// Paste-back of the generated square into the original, as edge_sdk.inpainting.paste_hole does:
// a blend weighted by the hole mask blurred with PIL's GaussianBlur(3), reproduced here bit for bit.
#pragma once

#include <cstdint>
#include <vector>

namespace moebius {

// PIL's ImageFilter.GaussianBlur(radius) on one 8-bit channel (an "extended box blur": three box passes
// per axis with a fractional radius, fixed-point, rounded to 8 bits after every pass, edges replicated).
std::vector<uint8_t> gaussian_blur_like_pil(const std::vector<uint8_t>& channel, int width, int height, float radius);

// out = uint8(255 * (generated/255 * w + (1 - w) * original/255)) with w = blurred hole / 255, per RGB channel;
// alpha of `out` is 255. `hole` is 0/1 per pixel; buffers are RGBA (generated may alias out).
void paste_hole(const uint8_t* original_rgba, const uint8_t* generated_rgba, const uint8_t* hole, int width, int height,
                uint8_t* out_rgba);

}  // namespace moebius
