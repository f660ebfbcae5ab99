// moebius_edge_conformance BUNDLE [--json FILE] [--skip-checksums]
//
// Replays the bundle's conformance vectors (BUNDLE/conformance/vectors.json, written by
// `moebius-edge conformance`) through the C ABI: encode, one step, decode and a whole inpaint with Python's
// noise. Prints (and with --json writes) the largest differences from Python's outputs; the tests judge them.
// Exit codes: 0 replayed, 2 bad input, 1 runtime failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "json_reader.h"
#include "moebius_edge.h"
#include "raw_files.h"

namespace {

struct Vector {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  size_t numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
};

size_t dtype_size(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "int64") return 8;
  if (dtype == "uint8") return 1;
  return 0;
}

struct Comparison {
  double max_abs_error = 0.0;
  double mean_abs_error = 0.0;
  double max_abs_expected = 0.0;
  size_t count = 0;
};

Comparison compare(const float* actual, const float* expected, size_t count) {
  Comparison c;
  c.count = count;
  double total = 0.0;
  for (size_t i = 0; i < count; ++i) {
    double error = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(error <= c.max_abs_error)) c.max_abs_error = error;  // NaN wins, so a NaN output never passes
    total += error;
    c.max_abs_expected = std::max(c.max_abs_expected, std::fabs(static_cast<double>(expected[i])));
  }
  c.mean_abs_error = count ? total / count : 0.0;
  return c;
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  std::ostringstream out;
  out.precision(9);
  out << value;
  return out.str();
}

std::string to_json(const Comparison& c) {
  return "{\"max_abs_error\": " + number(c.max_abs_error) + ", \"mean_abs_error\": " + number(c.mean_abs_error) +
         ", \"max_abs_expected\": " + number(c.max_abs_expected) + ", \"count\": " + std::to_string(c.count) + "}";
}

int fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "moebius_edge_conformance: error: %s\n", message.c_str());
  return code;
}

int library_failure(moebius_status status) {
  bool runtime = status == MOEBIUS_ERROR_RUNTIME || status == MOEBIUS_ERROR_INTERNAL || status == MOEBIUS_ERROR_OUT_OF_MEMORY;
  return fail(std::string(moebius_status_name(status)) + ": " + moebius_last_error(), runtime ? 1 : 2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bundle, json_path;
  uint32_t flags = MOEBIUS_OPEN_DEFAULT;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (arg == "--skip-checksums") {
      flags |= MOEBIUS_OPEN_SKIP_CHECKSUMS;
    } else if (!arg.empty() && arg[0] != '-' && bundle.empty()) {
      bundle = arg;
    } else {
      return fail("usage: moebius_edge_conformance BUNDLE [--json FILE] [--skip-checksums]");
    }
  }
  if (bundle.empty()) return fail("usage: moebius_edge_conformance BUNDLE [--json FILE] [--skip-checksums]");

  // Read every vector named in vectors.json and check its size against its shape and dtype.
  const std::string folder = bundle + "/conformance";
  std::vector<uint8_t> index_bytes;
  std::string error;
  if (!moebius_tools::read_file(folder + "/vectors.json", index_bytes, error)) {
    return fail("no conformance vectors in " + bundle + " (write them with `moebius-edge conformance " + bundle + "`)");
  }
  moebius::JsonValue index;
  if (!moebius::parse_json(std::string(index_bytes.begin(), index_bytes.end()), index, error)) return fail("vectors.json: " + error);
  const moebius::JsonValue* tensors = index.find("tensors");
  if (tensors == nullptr || !tensors->is_object()) return fail("vectors.json has no 'tensors' object");
  std::map<std::string, Vector> vectors;
  for (const auto& [name, entry] : tensors->object()) {
    const moebius::JsonValue *file = entry.find("file"), *shape = entry.find("shape"), *dtype = entry.find("dtype");
    if (!file || !file->is_string() || !shape || !shape->is_array() || !dtype || !dtype->is_string()) {
      return fail("vectors.json entry '" + name + "' needs file, shape and dtype");
    }
    Vector v;
    v.dtype = dtype->string();
    for (const auto& d : shape->array()) v.shape.push_back(static_cast<int64_t>(d.number()));
    if (dtype_size(v.dtype) == 0) return fail("vector '" + name + "' has unknown dtype " + v.dtype);
    if (!moebius_tools::read_file(folder + "/" + file->string(), v.bytes, error)) return fail(error);
    if (v.bytes.size() != v.numel() * dtype_size(v.dtype)) return fail("vector '" + name + "' has the wrong size for its shape");
    vectors[name] = std::move(v);
  }
  for (const char* name : {"encode.image", "encode.mask", "encode.masked_latents", "encode.mask_latent", "step.x",
                           "step.masked_latents", "step.mask_latent", "step.index", "step.next_x", "decode.x", "decode.image",
                           "inpaint.image", "inpaint.mask", "inpaint.noise", "inpaint.output"}) {
    if (!vectors.count(name)) return fail(std::string("vectors.json lacks '") + name + "'");
  }

  moebius_engine* engine = nullptr;
  moebius_status status = moebius_open(bundle.c_str(), flags, &engine);
  if (status != MOEBIUS_OK) return library_failure(status);
  moebius_info info{};
  info.struct_size = sizeof(info);
  moebius_get_info(engine, &info);
  std::string report = "{\n  \"precision\": \"" + std::string(info.precision) + "\",\n";

  // encode
  const Vector& masked_expected = vectors["encode.masked_latents"];
  const Vector& mask_latent_expected = vectors["encode.mask_latent"];
  std::vector<float> masked(masked_expected.numel()), mask_latent(mask_latent_expected.numel());
  std::vector<float> clean(masked_expected.numel());
  const Vector &encode_image = vectors["encode.image"], &encode_mask = vectors["encode.mask"];
  status = moebius_encode(engine, encode_image.f32(), encode_image.numel(), encode_mask.f32(), encode_mask.numel(), masked.data(),
                          masked.size(), mask_latent.data(), mask_latent.size(), info.strength < 1.0f ? clean.data() : nullptr,
                          clean.size());
  if (status != MOEBIUS_OK) return library_failure(status);
  report += "  \"encode.masked_latents\": " + to_json(compare(masked.data(), masked_expected.f32(), masked.size())) + ",\n";
  report += "  \"encode.mask_latent\": " + to_json(compare(mask_latent.data(), mask_latent_expected.f32(), mask_latent.size())) + ",\n";
  if (vectors.count("encode.clean_latents")) {
    report += "  \"encode.clean_latents\": " + to_json(compare(clean.data(), vectors["encode.clean_latents"].f32(), clean.size())) + ",\n";
  }

  // one step
  const Vector& next_expected = vectors["step.next_x"];
  std::vector<float> next(next_expected.numel());
  int64_t step_index;
  std::memcpy(&step_index, vectors["step.index"].bytes.data(), sizeof(step_index));
  const Vector &step_x = vectors["step.x"], &step_masked = vectors["step.masked_latents"], &step_mask = vectors["step.mask_latent"];
  status = moebius_step(engine, step_x.f32(), step_x.numel(), step_masked.f32(), step_masked.numel(), step_mask.f32(), step_mask.numel(),
                        step_index, next.data(), next.size());
  if (status != MOEBIUS_OK) return library_failure(status);
  report += "  \"step.next_x\": " + to_json(compare(next.data(), next_expected.f32(), next.size())) + ",\n";

  // decode
  const Vector& image_expected = vectors["decode.image"];
  std::vector<float> decoded(image_expected.numel());
  const Vector& decode_x = vectors["decode.x"];
  status = moebius_decode(engine, decode_x.f32(), decode_x.numel(), decoded.data(), decoded.size());
  if (status != MOEBIUS_OK) return library_failure(status);
  report += "  \"decode.image\": " + to_json(compare(decoded.data(), image_expected.f32(), decoded.size())) + ",\n";

  // the whole inpaint with Python's noise
  const Vector& image = vectors["inpaint.image"];
  const Vector& output_expected = vectors["inpaint.output"];
  int side = static_cast<int>(image.shape[0]);
  std::vector<uint8_t> output(output_expected.bytes.size());
  const Vector& noise = vectors["inpaint.noise"];
  const Vector& mask = vectors["inpaint.mask"];
  status = moebius_inpaint(engine, image.bytes.data(), image.bytes.size(), static_cast<int>(image.shape[1]), side, mask.bytes.data(),
                           mask.bytes.size(), noise.f32(), noise.numel(), 0, output.data(), output.size());
  if (status != MOEBIUS_OK) return library_failure(status);
  int max_difference = 0;
  size_t differing = 0;
  double total = 0.0;
  for (size_t i = 0; i < output.size(); ++i) {
    int difference = std::abs(static_cast<int>(output[i]) - static_cast<int>(output_expected.bytes[i]));
    max_difference = std::max(max_difference, difference);
    differing += difference != 0;
    total += difference;
  }
  // The paste-back alone, on Python's decoded square: must match exactly (it is integer and double arithmetic).
  if (vectors.count("paste.generated")) {
    std::vector<uint8_t> pasted(output.size());
    const Vector& generated = vectors["paste.generated"];
    status = moebius_paste_hole(image.bytes.data(), image.bytes.size(), generated.bytes.data(), generated.bytes.size(), mask.bytes.data(),
                                mask.bytes.size(), static_cast<int>(image.shape[1]), side, pasted.data(), pasted.size());
    if (status != MOEBIUS_OK) return library_failure(status);
    int paste_max = 0;
    size_t paste_differing = 0;
    for (size_t i = 0; i < pasted.size(); ++i) {
      int difference = std::abs(static_cast<int>(pasted[i]) - static_cast<int>(output_expected.bytes[i]));
      paste_max = std::max(paste_max, difference);
      paste_differing += difference != 0;
    }
    report += "  \"paste.output\": {\"max_abs_difference\": " + std::to_string(paste_max) +
              ", \"values_differing\": " + std::to_string(paste_differing) + "},\n";
  }
  moebius_timings timings;
  moebius_get_timings(engine, &timings);
  report += "  \"inpaint.output\": {\"max_abs_difference\": " + std::to_string(max_difference) +
            ", \"values_differing\": " + std::to_string(differing) + ", \"mean_abs_difference\": " + number(total / output.size()) +
            ", \"count\": " + std::to_string(output.size()) + "},\n";
  report += "  \"timings_ms\": {\"open\": " + number(timings.open_ms) + ", \"encode\": " + number(timings.encode_ms) +
            ", \"step_mean\": " + number(timings.step_mean_ms) + ", \"decode\": " + number(timings.decode_ms) +
            ", \"total\": " + number(timings.total_ms) + ", \"steps\": " + std::to_string(timings.steps) + "}\n}\n";
  moebius_close(engine);

  std::fputs(report.c_str(), stdout);
  if (!json_path.empty() && !moebius_tools::write_file_atomic(json_path, report.data(), report.size(), error)) return fail(error);
  return 0;
}
