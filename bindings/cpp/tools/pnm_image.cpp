#include "pnm_image.h"

#include <cctype>
#include <cstdio>
#include <fstream>

#include "raw_files.h"

namespace moebius_tools {
namespace {

// Reads the next header number, skipping whitespace and '#' comments.
bool header_number(std::istream& in, int& value) {
  int c;
  while ((c = in.peek()) != EOF) {
    if (std::isspace(c)) {
      in.get();
    } else if (c == '#') {
      std::string comment;
      std::getline(in, comment);
    } else {
      break;
    }
  }
  if (!std::isdigit(in.peek())) return false;
  long long parsed = 0;
  while (std::isdigit(in.peek())) {
    parsed = parsed * 10 + (in.get() - '0');
    if (parsed > 1 << 20) return false;
  }
  value = static_cast<int>(parsed);
  return true;
}

}  // namespace

bool read_pnm(const std::string& path, Image& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path;
    return false;
  }
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) {
    error = path + " is not a binary PPM/PGM (P6/P5) image";
    return false;
  }
  int max_value = 0;
  if (!header_number(in, out.width) || !header_number(in, out.height) || !header_number(in, max_value) || out.width <= 0 ||
      out.height <= 0) {
    error = path + " has a malformed PPM/PGM header";
    return false;
  }
  if (max_value != 255) {
    error = path + " must have 8-bit samples (maxval 255), not maxval " + std::to_string(max_value);
    return false;
  }
  in.get();  // the single whitespace byte after maxval
  out.channels = magic[1] == '6' ? 3 : 1;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
  in.read(reinterpret_cast<char*>(out.pixels.data()), static_cast<std::streamsize>(out.pixels.size()));
  if (static_cast<size_t>(in.gcount()) != out.pixels.size()) {
    error = path + " is truncated";
    return false;
  }
  return true;
}

bool write_pnm(const std::string& path, const Image& image, std::string& error) {
  std::string header = std::string(image.channels == 3 ? "P6" : "P5") + "\n" + std::to_string(image.width) + " " +
                       std::to_string(image.height) + "\n255\n";
  std::vector<uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), image.pixels.begin(), image.pixels.end());
  return write_file_atomic(path, bytes.data(), bytes.size(), error);
}

std::vector<uint8_t> to_rgba(const Image& image) {
  size_t pixels = static_cast<size_t>(image.width) * image.height;
  std::vector<uint8_t> rgba(pixels * 4);
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < 3; ++c) rgba[4 * p + c] = image.pixels[p * image.channels + (image.channels == 3 ? c : 0)];
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

std::vector<uint8_t> to_gray(const Image& image) {
  size_t pixels = static_cast<size_t>(image.width) * image.height;
  std::vector<uint8_t> gray(pixels);
  for (size_t p = 0; p < pixels; ++p) gray[p] = image.pixels[p * image.channels];
  return gray;
}

}  // namespace moebius_tools
