// Whole-file reads and atomic writes for the command-line tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moebius_tools {

bool read_file(const std::string& path, std::vector<uint8_t>& out, std::string& error);
// Writes `path` + ".part" then renames it over `path`, so readers never see a partial file.
bool write_file_atomic(const std::string& path, const void* data, size_t size, std::string& error);

}  // namespace moebius_tools
