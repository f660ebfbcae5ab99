// SHA-256 (FIPS 180-4) of a file, to check a bundle's graphs against the digests in its manifest.
#pragma once

#include <string>

namespace moebius {

// Lower-case hex digest of the file at `path`; returns false (and sets `error`) when it cannot be read.
bool sha256_file(const std::string& path, std::string& hex_digest, std::string& error);

// Lower-case hex digest of a byte string (used by the self-test).
std::string sha256_bytes(const void* data, size_t size);

}  // namespace moebius
