#include "thread_count.h"

#include <cstddef>

// The executorch wheel ships libexecutorch_threadpool.so but not its header (extension/threadpool/threadpool.h):
// these are the two entry points of ExecuTorch 1.5's ThreadPool this file uses, declared as that header does.
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

namespace moebius {

bool set_runtime_threads(uint32_t threads) {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  return pool != nullptr && threads > 0 && pool->_unsafe_reset_threadpool(threads);
}

uint32_t runtime_threads() {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  return pool == nullptr ? 0 : static_cast<uint32_t>(pool->get_thread_count());
}

}  // namespace moebius
