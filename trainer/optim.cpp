#include "trainer/optim.h"

#include "model/device.h"

namespace tessera::trainer {

std::vector<torch::optim::OptimizerParamGroup> adamw_groups(const model::GPT& model, const TrainSpec& spec) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, p] : model->named_params()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto options = [&](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(spec.lr).betas({spec.beta1, spec.beta2}).eps(1e-8).weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(spec.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  return groups;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const model::GPT& model, const TrainSpec& spec) {
  return std::make_unique<torch::optim::AdamW>(adamw_groups(model, spec), torch::optim::AdamWOptions(spec.lr));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

double evaluate_loss(model::GPT& model, const std::vector<std::pair<torch::Tensor, torch::Tensor>>& batches) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  double total = 0.0;
  for (const auto& [x, y] : batches) total += model->loss(x.to(model->device()), y.to(model->device())).item<double>();
  if (was_training) model->train();
  return batches.empty() ? 0.0 : total / static_cast<double>(batches.size());
}

double train_step(model::GPT& model, torch::optim::Optimizer& optimizer, const torch::Tensor& x, const torch::Tensor& y,
                  double lr, double grad_clip, const std::function<void()>& after_backward, bool bf16_autocast) {
  set_learning_rate(optimizer, lr);
  optimizer.zero_grad();
  const torch::Device device = model->device();
  torch::Tensor loss;
  {
    model::AutocastGuard autocast(device, bf16_autocast);
    loss = model->loss(x.to(device), y.to(device));
    loss.backward();
  }
  if (after_backward) after_backward();
  torch::nn::utils::clip_grad_norm_(model->parameters(), grad_clip);
  optimizer.step();
  return loss.item<double>();
}

}  // namespace tessera::trainer
