// One graph of a bundle (encode, step or decode) loaded from a .pte file and run with ExecuTorch's Module API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "status.h"

namespace executorch::extension::module {
class Module;
}

namespace moebius {

// A caller-side tensor: data the caller owns, in float32 (or int64 for indices), with the shape it expects.
struct HostTensor {
  enum class Type { Float32, Int64 };
  Type type = Type::Float32;
  std::vector<int32_t> shape;
  const void* data = nullptr;  // inputs
  void* out = nullptr;         // outputs

  size_t numel() const;
};

class ExecutorchGraph {
 public:
  ~ExecutorchGraph();

  // Loads `path` and its "forward" method, checking that the method has `inputs` and `outputs` tensors.
  static Status load(const std::string& name, const std::string& path, size_t inputs, size_t outputs,
                     std::unique_ptr<ExecutorchGraph>& out);

  // Runs forward on `inputs` and copies every output into the matching `outputs` buffer (NULL out: skipped).
  // Converts float32 to and from the graph's own float type (fp16 graphs take and give half).
  Status run(const std::vector<HostTensor>& inputs, const std::vector<HostTensor>& outputs);

  const std::string& name() const { return name_; }

 private:
  ExecutorchGraph() = default;
  std::string name_;
  std::unique_ptr<executorch::extension::module::Module> module_;
};

}  // namespace moebius
