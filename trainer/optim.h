// The inner optimizer: AdamW with weight decay on matrices and embeddings only (not on
// biases or norm parameters), as in GPT-2/nanoGPT training.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "core/run_spec.h"
#include "model/gpt.h"

namespace tessera::trainer {

std::unique_ptr<torch::optim::AdamW> make_adamw(const model::GPT& model, const TrainSpec& spec);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Mean cross-entropy of `model` over fixed validation batches (no grad, eval mode).
double evaluate_loss(model::GPT& model, const std::vector<std::pair<torch::Tensor, torch::Tensor>>& batches);

}  // namespace tessera::trainer
