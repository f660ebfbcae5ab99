// moebius_edge_run BUNDLE IMAGE MASK OUT [--bench N] [--json F] [--seed S] [--noise F] [--skip-checksums] [--load-in-turn]
//                  [--threads T]
//
// Inpaints IMAGE (a P6 .ppm at the model's size) where MASK (a P5 .pgm or P6 .ppm, white = hole) is set and
// writes OUT (.ppm). --bench N reruns the inpaint N more times and reports per-stage timings; --json F writes
// them (and the bundle's info, and the process's peak resident memory) as JSON, for the benchmark runner.
// Exit codes: 0 ok, 2 bad input, 1 runtime failure.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "moebius_edge.h"
#include "pnm_image.h"
#include "process_memory.h"
#include "raw_files.h"

namespace {

const char* kUsage =
    "usage: moebius_edge_run BUNDLE IMAGE MASK OUT [--bench N] [--json FILE] [--seed S] [--noise FILE] [--skip-checksums]\n"
    "                        [--load-in-turn] [--threads T]\n"
    "  IMAGE  binary PPM (P6) at the model's size; MASK  PGM (P5) or PPM, white (>=128) = fill; OUT  .ppm\n"
    "  --bench N      run N more timed inpaints after the first (warm-up) one and report per-stage medians\n"
    "  --json FILE    write timings and bundle info as JSON\n"
    "  --seed S       seed of the runtime's noise generator (default 0)\n"
    "  --noise FILE   raw little-endian float32 noise [1,C,L,L] instead of the seeded generator\n"
    "  --load-in-turn hold one graph at a time (MOEBIUS_OPEN_LOAD_IN_TURN): less memory, each inpaint reloads the graphs\n"
    "  --threads T    threads of ExecuTorch's pool, 1 to 255 (MOEBIUS_OPEN_THREADS; default: the runtime's own choice)\n";

int user_error(const std::string& message) {
  std::fprintf(stderr, "moebius_edge_run: error: %s\n", message.c_str());
  return 2;
}

int library_error(moebius_status status) {
  std::fprintf(stderr, "moebius_edge_run: error: %s: %s\n", moebius_status_name(status), moebius_last_error());
  bool runtime_failure = status == MOEBIUS_ERROR_RUNTIME || status == MOEBIUS_ERROR_INTERNAL || status == MOEBIUS_ERROR_OUT_OF_MEMORY;
  return runtime_failure ? 1 : 2;
}

bool parse_count(const char* text, long long minimum, long long& out) {
  char* end = nullptr;
  out = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' && out >= minimum;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string json_string(const char* text) {
  std::string out = "\"";
  for (const char* c = text; *c; ++c) {
    if (*c == '"' || *c == '\\') out += '\\';
    if (static_cast<unsigned char>(*c) < 0x20) continue;
    out += *c;
  }
  return out + "\"";
}

std::string json_numbers(const std::vector<double>& values) {
  std::ostringstream out;
  out.precision(6);
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << std::fixed << values[i];
  out << "]";
  return out.str();
}

struct Run {
  moebius_timings timings;
  std::vector<double> steps_ms;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  long long bench = 0, seed = 0, threads = 0;
  std::string json_path, noise_path;
  uint32_t flags = MOEBIUS_OPEN_DEFAULT;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--bench") {
      const char* v = value("--bench");
      if (!v || !parse_count(v, 0, bench)) return user_error("--bench needs a count >= 0");
    } else if (arg == "--seed") {
      const char* v = value("--seed");
      if (!v || !parse_count(v, 0, seed)) return user_error("--seed needs an integer >= 0");
    } else if (arg == "--json") {
      const char* v = value("--json");
      if (!v) return user_error("--json needs a file name");
      json_path = v;
    } else if (arg == "--noise") {
      const char* v = value("--noise");
      if (!v) return user_error("--noise needs a file name");
      noise_path = v;
    } else if (arg == "--skip-checksums") {
      flags |= MOEBIUS_OPEN_SKIP_CHECKSUMS;
    } else if (arg == "--threads") {
      const char* v = value("--threads");
      if (!v || !parse_count(v, 1, threads) || threads > 255) return user_error("--threads needs a count from 1 to 255");
      flags |= MOEBIUS_OPEN_THREADS(threads);
    } else if (arg == "--load-in-turn") {
      flags |= MOEBIUS_OPEN_LOAD_IN_TURN;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return user_error("unknown option " + arg + "\n" + kUsage);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 4) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string &bundle = positional[0], &image_path = positional[1], &mask_path = positional[2], &out_path = positional[3];
  if (out_path.size() < 4 || out_path.compare(out_path.size() - 4, 4, ".ppm") != 0) return user_error("OUT must end in .ppm");

  std::string error;
  moebius_tools::Image image, mask;
  if (!moebius_tools::read_pnm(image_path, image, error)) return user_error(error);
  if (!moebius_tools::read_pnm(mask_path, mask, error)) return user_error(error);
  if (mask.width != image.width || mask.height != image.height) {
    return user_error("mask is " + std::to_string(mask.width) + "x" + std::to_string(mask.height) + " but the image is " +
                      std::to_string(image.width) + "x" + std::to_string(image.height) + ": they must match");
  }
  std::vector<float> noise;
  if (!noise_path.empty()) {
    std::vector<uint8_t> bytes;
    if (!moebius_tools::read_file(noise_path, bytes, error)) return user_error(error);
    if (bytes.size() % sizeof(float) != 0) return user_error(noise_path + " is not a whole number of float32 values");
    noise.resize(bytes.size() / sizeof(float));
    std::memcpy(noise.data(), bytes.data(), bytes.size());
  }

  moebius_engine* engine = nullptr;
  const double start_rss_mb = moebius_tools::current_rss_mb();
  moebius_status status = moebius_open(bundle.c_str(), flags, &engine);
  if (status != MOEBIUS_OK) return library_error(status);
  const double open_rss_mb = moebius_tools::current_rss_mb();
  moebius_info info{};
  info.struct_size = sizeof(info);
  moebius_get_info(engine, &info);

  std::vector<uint8_t> rgba = moebius_tools::to_rgba(image), hole = moebius_tools::to_gray(mask), out(rgba.size());
  std::vector<Run> runs;
  for (long long r = 0; r <= bench; ++r) {
    status = moebius_inpaint(engine, rgba.data(), rgba.size(), image.width, image.height, hole.data(), hole.size(),
                             noise.empty() ? nullptr : noise.data(), noise.size(), static_cast<uint64_t>(seed), out.data(), out.size());
    if (status != MOEBIUS_OK) {
      int code = library_error(status);
      moebius_close(engine);
      return code;
    }
    Run run;
    moebius_get_timings(engine, &run.timings);
    size_t count = 0;
    moebius_get_step_times(engine, nullptr, 0, &count);
    run.steps_ms.resize(count);
    moebius_get_step_times(engine, run.steps_ms.data(), count, &count);
    runs.push_back(run);
  }

  moebius_tools::Image result;
  result.width = image.width;
  result.height = image.height;
  result.channels = 3;
  result.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  for (size_t p = 0; p < result.pixels.size() / 3; ++p) {
    for (int c = 0; c < 3; ++c) result.pixels[3 * p + c] = out[4 * p + c];
  }
  if (!moebius_tools::write_pnm(out_path, result, error)) {
    moebius_close(engine);
    return user_error(error);
  }

  // The first run warms caches and XNNPACK's weight packing; with --bench only the later runs are summarised.
  size_t first_timed = runs.size() > 1 ? 1 : 0;
  std::vector<double> encode, denoise, decode, paste, total, steps;
  for (size_t r = first_timed; r < runs.size(); ++r) {
    encode.push_back(runs[r].timings.encode_ms);
    denoise.push_back(runs[r].timings.denoise_ms);
    decode.push_back(runs[r].timings.decode_ms);
    paste.push_back(runs[r].timings.paste_ms);
    total.push_back(runs[r].timings.total_ms);
    steps.insert(steps.end(), runs[r].steps_ms.begin(), runs[r].steps_ms.end());
  }
  const double peak_rss_mb = moebius_tools::peak_rss_mb();
  std::printf("wrote %s\n%s %s %d steps: open %.1f ms, encode %.1f ms, step %.1f ms (median of %zu), decode %.1f ms, paste %.1f ms, total %.1f ms\n"
              "memory: peak RSS %.1f MB (%.1f MB before open, %.1f MB after)%s\n",
              out_path.c_str(), info.model, info.precision, info.steps, runs[0].timings.open_ms, median(encode), median(steps),
              steps.size(), median(decode), median(paste), median(total), peak_rss_mb, start_rss_mb, open_rss_mb,
              (flags & MOEBIUS_OPEN_LOAD_IN_TURN) ? ", graphs loaded in turn" : "");

  if (!json_path.empty()) {
    std::ostringstream json;
    json.precision(6);
    json << std::fixed << "{\n";
    json << "  \"runtime\": \"executorch-cpp\",\n";
    json << "  \"bundle\": " << json_string(bundle.c_str()) << ",\n";
    json << "  \"backend\": " << json_string(info.backend) << ",\n";
    json << "  \"precision\": " << json_string(info.precision) << ",\n";
    json << "  \"model\": " << json_string(info.model) << ",\n";
    json << "  \"image_size\": " << info.image_size << ",\n";
    json << "  \"steps\": " << info.steps << ",\n";
    json << "  \"warmup_runs\": " << first_timed << ",\n";
    json << "  \"timed_runs\": " << runs.size() - first_timed << ",\n";
    json << "  \"open_ms\": " << runs[0].timings.open_ms << ",\n";
    json << "  \"threads\": " << threads << ",\n";
    json << "  \"load_in_turn\": " << ((flags & MOEBIUS_OPEN_LOAD_IN_TURN) ? "true" : "false") << ",\n";
    json << "  \"memory_mb\": {\"peak_rss\": " << peak_rss_mb << ", \"before_open\": " << start_rss_mb << ", \"after_open\": " << open_rss_mb
         << "},\n";
    json << "  \"median_ms\": {\"encode\": " << median(encode) << ", \"step\": " << median(steps) << ", \"denoise\": " << median(denoise)
         << ", \"decode\": " << median(decode) << ", \"paste\": " << median(paste) << ", \"total\": " << median(total) << "},\n";
    json << "  \"runs\": [\n";
    for (size_t r = 0; r < runs.size(); ++r) {
      const moebius_timings& t = runs[r].timings;
      json << "    {\"warmup\": " << (r < first_timed ? "true" : "false") << ", \"encode_ms\": " << t.encode_ms
           << ", \"denoise_ms\": " << t.denoise_ms << ", \"decode_ms\": " << t.decode_ms << ", \"paste_ms\": " << t.paste_ms
           << ", \"total_ms\": " << t.total_ms << ", \"step_ms\": " << json_numbers(runs[r].steps_ms) << "}"
           << (r + 1 < runs.size() ? ",\n" : "\n");
    }
    json << "  ]\n}\n";
    std::string text = json.str();
    if (!moebius_tools::write_file_atomic(json_path, text.data(), text.size(), error)) {
      moebius_close(engine);
      return user_error(error);
    }
  }
  moebius_close(engine);
  return 0;
}
