// Netpbm images for the command-line tools: binary PPM (P6, RGB) and PGM (P5, grey), 8 bits per sample.
// Every image library reads and writes them (e.g. `convert photo.jpg photo.ppm`, or PIL's Image.save("x.ppm")).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moebius_tools {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 (P5) or 3 (P6)
  std::vector<uint8_t> pixels;
};

bool read_pnm(const std::string& path, Image& out, std::string& error);
// Writes P6 (3 channels) or P5 (1 channel) through a temporary file and a rename: never a half-written file.
bool write_pnm(const std::string& path, const Image& image, std::string& error);

std::vector<uint8_t> to_rgba(const Image& image);
std::vector<uint8_t> to_gray(const Image& image);  // a mask: grey as is, RGB by its first channel

}  // namespace moebius_tools
