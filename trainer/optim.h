// The inner optimizer: AdamW with weight decay on matrices and embeddings only (not on
// biases or norm parameters), as in GPT-2/nanoGPT training.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>

#include "core/run_spec.h"
#include "model/gpt.h"

namespace tessera::trainer {

// Two groups: matrices and embeddings with the spec's weight decay, the rest without.
std::vector<torch::optim::OptimizerParamGroup> adamw_groups(const model::GPT& model, const TrainSpec& spec);
std::unique_ptr<torch::optim::AdamW> make_adamw(const model::GPT& model, const TrainSpec& spec);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// One training step shared by the baseline and the miner's inner loop: set the learning
// rate, forward, backward, clip the gradient norm to `grad_clip`, step. The batch moves to
// the model's device; with `bf16_autocast` the forward and backward pass run under bf16
// autocast where the device supports it (model/device.h). Returns the loss (callers report
// a non-finite one with their own context). `after_backward` runs between backward and
// clipping (data parallelism all-reduces the gradients there).
double train_step(model::GPT& model, torch::optim::Optimizer& optimizer, const torch::Tensor& x, const torch::Tensor& y,
                  double lr, double grad_clip, const std::function<void()>& after_backward = {},
                  bool bf16_autocast = false);

// Mean cross-entropy of `model` over fixed validation batches (no grad, eval mode).
double evaluate_loss(model::GPT& model, const std::vector<std::pair<torch::Tensor, torch::Tensor>>& batches);

}  // namespace tessera::trainer
