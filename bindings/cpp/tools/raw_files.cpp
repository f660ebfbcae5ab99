#include "raw_files.h"

#include <cstdio>
#include <fstream>

namespace moebius_tools {

bool read_file(const std::string& path, std::vector<uint8_t>& out, std::string& error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "cannot open " + path;
    return false;
  }
  std::streamsize size = in.tellg();
  in.seekg(0);
  out.resize(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(out.data()), size)) {
    error = "cannot read " + path;
    return false;
  }
  return true;
}

bool write_file_atomic(const std::string& path, const void* data, size_t size, std::string& error) {
  std::string temporary = path + ".part";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      error = "cannot write " + path + " (does its folder exist?)";
      return false;
    }
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      error = "write failed for " + path;
      return false;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    error = "cannot rename " + temporary + " to " + path;
    return false;
  }
  return true;
}

}  // namespace moebius_tools
