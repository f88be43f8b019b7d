// A model's parameters as plain tensors, in the fixed order of named_params(): what a
// checkpoint holds, what a miner starts from and what a validator evaluates.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "core/status.h"
#include "model/gpt.h"

namespace tessera::model {

// Copies `values` (any device) into the model's parameters; shapes must match.
Status load_parameters(GPT& model, const std::vector<torch::Tensor>& values);
// Detached clones of the model's parameters, on the model's device.
std::vector<torch::Tensor> snapshot_parameters(const GPT& model);

}  // namespace tessera::model
