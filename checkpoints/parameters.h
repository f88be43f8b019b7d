// A checkpoint's tensors are the model's parameters (GPT-2 names, model order) followed,
// for an outer optimizer with momentum, by one buffer per parameter named
// "outer.momentum.<name>". These split the two.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoints/store.h"

namespace tessera::checkpoints {

inline constexpr const char* kMomentumPrefix = "outer.momentum.";

// Whether a tensor name is optimizer state rather than a model parameter.
bool is_optimizer_state(const std::string& name);
// The parameters of a checkpoint (its tensors without optimizer state), in model order.
NamedTensors model_named_parameters(const Checkpoint& checkpoint);
std::vector<torch::Tensor> model_parameters(const Checkpoint& checkpoint);
std::vector<std::vector<std::int64_t>> parameter_shapes(const Checkpoint& checkpoint);

}  // namespace tessera::checkpoints
