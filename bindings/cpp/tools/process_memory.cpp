#include "process_memory.h"

#include <cstdio>
#include <cstring>

#include <sys/resource.h>

namespace moebius_tools {
namespace {

// A "Name:   1234 kB" line of /proc/self/status in MiB, or -1.
double proc_status_mb(const char* name) {
  std::FILE* file = std::fopen("/proc/self/status", "r");
  if (file == nullptr) return -1.0;
  char line[256];
  double value = -1.0;
  const size_t length = std::strlen(name);
  while (std::fgets(line, sizeof(line), file)) {
    long kilobytes = 0;
    if (std::strncmp(line, name, length) == 0 && line[length] == ':' && std::sscanf(line + length + 1, "%ld", &kilobytes) == 1) {
      value = kilobytes / 1024.0;
      break;
    }
  }
  std::fclose(file);
  return value;
}

}  // namespace

double peak_rss_mb() {
  // Not ru_maxrss on Linux: it carries the parent's high-water mark across fork + exec.
  double linux_peak = proc_status_mb("VmHWM");
  if (linux_peak >= 0) return linux_peak;
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1.0;
#if defined(__APPLE__)
  return usage.ru_maxrss / (1024.0 * 1024.0);  // bytes
#else
  return usage.ru_maxrss / 1024.0;  // kilobytes
#endif
}

double current_rss_mb() { return proc_status_mb("VmRSS"); }

}  // namespace moebius_tools
