// The resident memory of this process, for the runner's memory report.
#pragma once

namespace moebius_tools {

// Peak resident set so far, in MiB (Linux: VmHWM; elsewhere getrusage's ru_maxrss). Negative if unknown.
double peak_rss_mb();

// Resident set now, in MiB (Linux: VmRSS). Negative where the platform does not say.
double current_rss_mb();

}  // namespace moebius_tools
