#include "checkpoints/parameters.h"

namespace tessera::checkpoints {

bool is_optimizer_state(const std::string& name) { return name.rfind(kMomentumPrefix, 0) == 0; }

NamedTensors model_named_parameters(const Checkpoint& checkpoint) {
  NamedTensors out;
  for (const auto& [name, t] : checkpoint.tensors) {
    if (!is_optimizer_state(name)) out.emplace_back(name, t);
  }
  return out;
}

std::vector<torch::Tensor> model_parameters(const Checkpoint& checkpoint) {
  std::vector<torch::Tensor> out;
  for (auto& [name, t] : model_named_parameters(checkpoint)) out.push_back(std::move(t));
  return out;
}

std::vector<std::vector<std::int64_t>> parameter_shapes(const Checkpoint& checkpoint) {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& t : model_parameters(checkpoint)) out.push_back(t.sizes().vec());
  return out;
}

}  // namespace tessera::checkpoints
