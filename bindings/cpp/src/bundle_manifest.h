// The fields of a bundle's manifest.json that the runtime needs, read and checked.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "status.h"
#include "tiled_decode.h"

namespace moebius {

struct GraphEntry {
  std::string file;    // relative to the bundle folder
  std::string sha256;  // lower-case hex; empty when the manifest gives none
};

struct BundleManifest {
  int format_version = 0;
  std::string backend;
  std::string precision;
  std::string model;
  int image_size = 0;
  int latent_size = 0;
  int latent_channels = 0;
  int steps = 0;  // retained steps the step graph indexes
  float strength = 1.0f;
  float guidance_scale = 0.0f;
  // x0 = start_signal * clean_latents + start_noise * noise when strength < 1 (x0 = noise otherwise).
  float start_signal = 0.0f;
  float start_noise = 1.0f;
  std::map<std::string, GraphEntry> graphs;  // "encode", "step", "decode"
  // Set when the decode graph takes latent tiles [1, C, tile, tile] (manifest "decode_tiling"; absent or null: off).
  DecodeTiling decode_tiling;

  bool starts_from_noise() const { return strength >= 1.0f; }
};

// Reads <bundle_dir>/manifest.json.
Status read_manifest(const std::string& bundle_dir, BundleManifest& out);

}  // namespace moebius
