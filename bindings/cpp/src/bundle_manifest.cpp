#include "bundle_manifest.h"

#include <fstream>
#include <sstream>

#include "json_reader.h"

namespace moebius {
namespace {

constexpr const char* kFormat = "moebius-edge/bundle";
constexpr int kNewestFormatVersion = 1;

Status bad(const std::string& message) { return Status::Error(MOEBIUS_ERROR_BAD_MANIFEST, "manifest.json: " + message); }

bool get_string(const JsonValue& object, const char* key, std::string& out) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || !value->is_string()) return false;
  out = value->string();
  return true;
}

bool get_number(const JsonValue& object, const char* key, double& out) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || !value->is_number()) return false;
  out = value->number();
  return true;
}

bool get_int(const JsonValue& object, const char* key, int& out) {
  double value;
  if (!get_number(object, key, value) || value != static_cast<double>(static_cast<int>(value))) return false;
  out = static_cast<int>(value);
  return true;
}

}  // namespace

Status read_manifest(const std::string& bundle_dir, BundleManifest& out) {
  std::string path = bundle_dir + "/manifest.json";
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    std::ifstream folder(bundle_dir);
    if (!folder) return Status::Error(MOEBIUS_ERROR_NOT_FOUND, "bundle folder not found: " + bundle_dir);
    return Status::Error(MOEBIUS_ERROR_NOT_FOUND, "not a bundle (no manifest.json): " + bundle_dir);
  }
  std::stringstream buffer;
  buffer << stream.rdbuf();
  JsonValue root;
  std::string error;
  if (!parse_json(buffer.str(), root, error)) return bad("not valid JSON (" + error + ")");
  if (!root.is_object()) return bad("top level is not an object");

  std::string format;
  if (!get_string(root, "format", format) || format != kFormat) return bad(std::string("not a Moebius Edge bundle manifest (format '") + kFormat + "' expected)");
  if (!get_int(root, "format_version", out.format_version)) return bad("missing integer 'format_version'");
  if (out.format_version < 1 || out.format_version > kNewestFormatVersion) {
    return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, "bundle format version " + std::to_string(out.format_version) +
                                                        " is not supported by this runtime (it reads up to " +
                                                        std::to_string(kNewestFormatVersion) + ")");
  }
  if (!get_string(root, "backend", out.backend)) return bad("missing 'backend'");
  // executorch-coreml bundles are .pte files too; they load where ExecuTorch was built with its Core ML backend.
  if (out.backend != "executorch" && out.backend != "executorch-coreml") {
    return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, "this bundle is for the '" + out.backend +
                                                        "' backend; the C++ runtime runs 'executorch' and 'executorch-coreml' bundles");
  }
  if (!get_string(root, "precision", out.precision)) return bad("missing 'precision'");
  get_string(root, "model", out.model);

  const JsonValue* graphs = root.find("graphs");
  if (graphs == nullptr || !graphs->is_object()) return bad("missing 'graphs'");
  for (const char* name : {"encode", "step", "decode"}) {
    const JsonValue* graph = graphs->find(name);
    GraphEntry entry;
    if (graph == nullptr || !get_string(*graph, "file", entry.file)) return bad(std::string("no file for the ") + name + " graph");
    if (entry.file.empty() || entry.file.find("..") != std::string::npos || entry.file[0] == '/') {
      return bad(std::string("the ") + name + " graph's file name '" + entry.file + "' leaves the bundle folder");
    }
    get_string(*graph, "sha256", entry.sha256);
    out.graphs[name] = entry;
  }
  if (!get_int(root, "image_size", out.image_size) || out.image_size <= 0 || out.image_size % 8 != 0) {
    return bad("missing or invalid 'image_size'");
  }
  out.latent_size = out.image_size / 8;
  out.latent_channels = 4;
  get_int(root, "latent_size", out.latent_size);
  get_int(root, "latent_channels", out.latent_channels);
  if (out.latent_size <= 0 || out.latent_channels <= 0) return bad("invalid latent_size or latent_channels");
  const JsonValue* tiling = root.find("decode_tiling");
  if (tiling != nullptr && tiling->kind() != JsonValue::Kind::Null) {
    if (!get_int(*tiling, "tile", out.decode_tiling.tile) || !get_int(*tiling, "overlap", out.decode_tiling.overlap)) {
      return bad("decode_tiling must be null or an object with integer 'tile' and 'overlap'");
    }
    std::string problem = check_decode_tiling(out.decode_tiling, out.latent_size);
    if (!problem.empty()) return bad(problem);
    // Tiles are blended on whole pixels: the image must be a whole number of pixels per latent.
    if (out.image_size % out.latent_size != 0) return bad("decode_tiling needs image_size to be a multiple of latent_size");
  }
  const JsonValue* timesteps = root.find("timesteps");
  if (timesteps == nullptr || !timesteps->is_array() || timesteps->array().empty()) return bad("missing 'timesteps'");
  out.steps = static_cast<int>(timesteps->array().size());
  double number;
  if (get_number(root, "strength", number)) out.strength = static_cast<float>(number);
  if (get_number(root, "guidance_scale", number)) out.guidance_scale = static_cast<float>(number);
  if (!out.starts_from_noise()) {
    const JsonValue* schedule = root.find("schedule");
    double signal, noise;
    if (schedule == nullptr || !get_number(*schedule, "start_signal", signal) || !get_number(*schedule, "start_noise", noise)) {
      return bad("strength < 1 needs schedule.start_signal and schedule.start_noise");
    }
    out.start_signal = static_cast<float>(signal);
    out.start_noise = static_cast<float>(noise);
  }
  return Status::Ok();
}

}  // namespace moebius
