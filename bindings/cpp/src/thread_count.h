// The size of ExecuTorch's thread pool (XNNPACK runs its operators on it).
#pragma once

#include <cstdint>

namespace moebius {

// Resizes the process-wide pool to `threads` (> 0); false if ExecuTorch refused.
bool set_runtime_threads(uint32_t threads);

// The pool's size now.
uint32_t runtime_threads();

}  // namespace moebius
