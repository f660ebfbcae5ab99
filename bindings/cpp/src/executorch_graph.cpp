#include "executorch_graph.h"

#include <cstring>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/platform/runtime.h>

#include "half_float.h"

namespace moebius {

namespace et = ::executorch;
using et::aten::ScalarType;
using et::extension::Module;
using et::runtime::Error;

size_t HostTensor::numel() const {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

namespace {

std::string describe(Error error) {
  return std::string(et::runtime::to_string(error)) + " (ExecuTorch error " + std::to_string(static_cast<int>(error)) + ")";
}

std::string shape_string(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

template <typename Sizes>
std::vector<int32_t> to_vector(const Sizes& sizes) {
  std::vector<int32_t> shape;
  for (size_t i = 0; i < sizes.size(); ++i) shape.push_back(static_cast<int32_t>(sizes[i]));
  return shape;
}

}  // namespace

ExecutorchGraph::~ExecutorchGraph() = default;

Status ExecutorchGraph::load(const std::string& name, const std::string& path, size_t inputs, size_t outputs,
                             std::unique_ptr<ExecutorchGraph>& out) {
  et::runtime::runtime_init();
  std::unique_ptr<ExecutorchGraph> graph(new ExecutorchGraph());
  graph->name_ = name;
  // Mmap keeps large weights out of the heap; the OS pages them in as the delegate reads them.
  graph->module_ = std::make_unique<Module>(path, Module::LoadMode::Mmap);
  // InternalConsistency makes ExecuTorch verify the flatbuffer, so a damaged file is an error, not a crash.
  Error error = graph->module_->load(et::runtime::Program::Verification::InternalConsistency);
  if (error != Error::Ok) {
    return Status::Error(MOEBIUS_ERROR_CORRUPT_BUNDLE, name + " graph " + path + " did not load: " + describe(error));
  }
  error = graph->module_->load_method("forward");
  if (error != Error::Ok) {
    return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name + " graph " + path + ": method 'forward' did not load: " + describe(error) +
                                                        " (a delegate or kernel this runtime lacks?)");
  }
  auto meta = graph->module_->method_meta("forward");
  if (!meta.ok()) return Status::Error(MOEBIUS_ERROR_CORRUPT_BUNDLE, name + " graph has no readable signature");
  if (meta->num_inputs() != inputs || meta->num_outputs() != outputs) {
    return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name + " graph takes " + std::to_string(meta->num_inputs()) + " inputs and gives " +
                                                        std::to_string(meta->num_outputs()) + " outputs; this runtime expects " +
                                                        std::to_string(inputs) + " and " + std::to_string(outputs));
  }
  out = std::move(graph);
  return Status::Ok();
}

Status ExecutorchGraph::run(const std::vector<HostTensor>& inputs, const std::vector<HostTensor>& outputs) {
  auto meta = module_->method_meta("forward");
  if (!meta.ok()) return Status::Error(MOEBIUS_ERROR_RUNTIME, name_ + " graph has no readable signature");
  std::vector<et::extension::TensorPtr> owned;
  std::vector<std::vector<uint16_t>> half_inputs;  // converted copies for fp16 graphs, kept alive until execute returns
  std::vector<et::runtime::EValue> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto info = meta->input_tensor_meta(i);
    if (!info.ok()) return Status::Error(MOEBIUS_ERROR_RUNTIME, name_ + " input " + std::to_string(i) + " is not a tensor");
    const HostTensor& input = inputs[i];
    std::vector<int32_t> expected = to_vector(info->sizes());
    if (expected != input.shape) {
      return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name_ + " input " + std::to_string(i) + " has shape " + shape_string(expected) +
                                                          ", the runtime passes " + shape_string(input.shape));
    }
    void* data = const_cast<void*>(input.data);  // ExecuTorch only reads inputs
    ScalarType graph_type = info->scalar_type();
    if (input.type == HostTensor::Type::Int64) {
      if (graph_type != ScalarType::Long) return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name_ + " input " + std::to_string(i) + " is not int64");
      owned.push_back(et::extension::from_blob(data, info->sizes().size() ? expected : std::vector<int32_t>{}, ScalarType::Long));
    } else if (graph_type == ScalarType::Float) {
      owned.push_back(et::extension::from_blob(data, expected, ScalarType::Float));
    } else if (graph_type == ScalarType::Half) {
      half_inputs.emplace_back(input.numel());
      float_to_half(static_cast<const float*>(input.data), half_inputs.back().data(), input.numel());
      owned.push_back(et::extension::from_blob(half_inputs.back().data(), expected, ScalarType::Half));
    } else {
      return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name_ + " input " + std::to_string(i) + " has an unsupported dtype");
    }
    values.emplace_back(owned.back());
  }
  auto result = module_->execute("forward", values);
  if (!result.ok()) return Status::Error(MOEBIUS_ERROR_RUNTIME, name_ + " graph failed: " + describe(result.error()));
  if (result->size() != outputs.size()) {
    return Status::Error(MOEBIUS_ERROR_RUNTIME, name_ + " graph gave " + std::to_string(result->size()) + " outputs, expected " +
                                                    std::to_string(outputs.size()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const HostTensor& output = outputs[i];
    if (output.out == nullptr) continue;
    const et::runtime::EValue& value = (*result)[i];
    if (!value.isTensor()) return Status::Error(MOEBIUS_ERROR_RUNTIME, name_ + " output " + std::to_string(i) + " is not a tensor");
    const auto& tensor = value.toTensor();
    std::vector<int32_t> shape = to_vector(tensor.sizes());
    if (shape != output.shape) {
      return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name_ + " output " + std::to_string(i) + " has shape " + shape_string(shape) +
                                                          ", the runtime expects " + shape_string(output.shape));
    }
    if (tensor.scalar_type() == ScalarType::Float) {
      std::memcpy(output.out, tensor.const_data_ptr<float>(), output.numel() * sizeof(float));
    } else if (tensor.scalar_type() == ScalarType::Half) {
      half_to_float(reinterpret_cast<const uint16_t*>(tensor.const_data_ptr()), static_cast<float*>(output.out), output.numel());
    } else {
      return Status::Error(MOEBIUS_ERROR_UNSUPPORTED, name_ + " output " + std::to_string(i) + " has an unsupported dtype");
    }
  }
  return Status::Ok();
}

}  // namespace moebius
